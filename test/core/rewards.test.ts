/** The reward maths against hand-computed values (ARCHITECTURE.md §1). */
import { describe, expect, it } from 'vitest';
import { aggregateRewards, rewardSummary, sigmoid, stepsOf, tokenRewardsOf, type RewardInput } from '../../src/core/rewards.js';
import type { Aggregate } from '../../src/core/types.js';

/** A trace's rewards as an answer gives them, from the three parts the service calls. */
function computeRewards(input: RewardInput & { aggregate: Aggregate; tokenRewards: boolean }) {
  const summary = rewardSummary(input, input.aggregate);
  const steps = stepsOf(summary.q, input.stepTokens);
  return { score: summary.score, outcome_reward: summary.outcome_reward, steps, token_rewards: input.tokenRewards ? tokenRewardsOf(input) : undefined };
}

describe('sigmoid', () => {
  it('matches 1/(1+e^-x) and stays finite at the extremes', () => {
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(2)).toBeCloseTo(0.8807970779778823, 15);
    expect(sigmoid(-2)).toBeCloseTo(0.11920292202211755, 15);
    expect(sigmoid(800)).toBe(1);
    expect(sigmoid(-800)).toBe(0);
    // Naive e^{-x} overflows to Infinity here; the stable form keeps the tiny value.
    expect(sigmoid(-700)).toBeGreaterThan(0);
    expect(sigmoid(-700)).toBeCloseTo(Math.exp(-700), 300);
  });
});

describe('rewardSummary, stepsOf and tokenRewardsOf', () => {
  // Two steps: tokens 2 and 1. ℓ = [-1-(-2), -3-(-1), -0.5-(-0.25)] = [1, -2, -0.25]
  const policy = [-1, -3, -0.5];
  const reference = [-2, -1, -0.25];

  it('computes q, r, values and the outcome with a reference model', () => {
    const out = computeRewards({ policy, reference, stepTokens: [2, 1], beta: 0.5, aggregate: 'min', tokenRewards: false });
    // q1 = 0.5·(1 − 2) = −0.5; q2 = 0.5·(1 − 2 − 0.25) = −0.625; r = [−0.5, −0.125]
    expect(out.steps.map((s) => s.q)).toEqual([-0.5, -0.625]);
    expect(out.steps[0].reward).toBeCloseTo(-0.5, 15);
    expect(out.steps[1].reward).toBeCloseTo(-0.125, 15);
    expect(out.steps.map((s) => s.tokens)).toEqual([2, 1]);
    expect(out.steps[0].value).toBeCloseTo(1 / (1 + Math.exp(0.5)), 15);
    expect(out.steps[1].value).toBeCloseTo(1 / (1 + Math.exp(0.625)), 15);
    expect(out.outcome_reward).toBe(-0.625);
    expect(out.score).toBeCloseTo(-0.5, 15);
    expect(out.token_rewards).toBeUndefined();
  });

  it('is reference-free when the reference is null', () => {
    const out = computeRewards({ policy, reference: null, stepTokens: [2, 1], beta: 2, aggregate: 'sum', tokenRewards: true });
    expect(out.steps.map((s) => s.q)).toEqual([-8, -9]);
    expect(out.steps.map((s) => s.reward)).toEqual([-8, -1]);
    expect(out.score).toBe(-9);
    expect(out.token_rewards).toEqual([[-2, -6], [-1]]);
  });

  it('groups β·ℓ per step when token rewards are asked for', () => {
    const out = computeRewards({ policy, reference, stepTokens: [1, 2], beta: 0.5, aggregate: 'last', tokenRewards: true });
    expect(out.token_rewards).toEqual([[0.5], [-1, -0.125]]);
    expect(out.score).toBeCloseTo(-1.125, 15);
  });

  it('scales linearly in β', () => {
    const a = computeRewards({ policy, reference, stepTokens: [2, 1], beta: 0.001, aggregate: 'mean', tokenRewards: false });
    const b = computeRewards({ policy, reference, stepTokens: [2, 1], beta: 1, aggregate: 'mean', tokenRewards: false });
    expect(a.outcome_reward).toBeCloseTo(b.outcome_reward * 0.001, 15);
    expect(a.score).toBeCloseTo(b.score * 0.001, 15);
  });

  it('rejects inputs whose lengths disagree', () => {
    expect(() => computeRewards({ policy, reference, stepTokens: [2, 2], beta: 1, aggregate: 'min', tokenRewards: false })).toThrow(RangeError);
    expect(() => computeRewards({ policy, reference: [0], stepTokens: [2, 1], beta: 1, aggregate: 'min', tokenRewards: false })).toThrow(RangeError);
    expect(() => computeRewards({ policy: [], reference: null, stepTokens: [], beta: 1, aggregate: 'min', tokenRewards: false })).toThrow(RangeError);
  });
});

describe('aggregateRewards', () => {
  it('implements min, sum, last and mean', () => {
    const r = [0.5, -2, 1.5, 4];
    expect(aggregateRewards(r, 'min')).toBe(-2);
    expect(aggregateRewards(r, 'sum')).toBe(4);
    expect(aggregateRewards(r, 'last')).toBe(4);
    expect(aggregateRewards(r, 'mean')).toBe(1);
  });
});
