/**
 * The implicit process reward maths (ARCHITECTURE.md §1), pure and in float64:
 *   ℓ_i = log πφ(t_i | t_<i) − log πref(t_i | t_<i)     (reference-free: log πφ)
 *   q_k = β · Σ ℓ_i over the tokens of steps 1..k,  r_k = q_k − q_{k−1} (q_0 = 0)
 *   outcome reward = q_n,  value v_k = σ(q_k),  token reward = β · ℓ_i
 *   score: min (default) / sum (= q_n) / last (= r_n) / mean of the r_k
 */
import type { Aggregate } from './types.js';

export interface RewardInput {
  /** Policy log-probs, one per response token (steps concatenated). */
  policy: ArrayLike<number>;
  /** Reference log-probs aligned with `policy`, or null for a reference-free bundle. */
  reference: ArrayLike<number> | null;
  /** Tokens of each step; they sum to policy.length. */
  stepTokens: readonly number[];
  beta: number;
}

export interface RewardStep {
  reward: number;
  q: number;
  value: number;
  tokens: number;
}

/** σ(x) without overflow: exp is only ever taken of a non-positive number. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

export function aggregateRewards(rewards: ArrayLike<number>, aggregate: Aggregate): number {
  switch (aggregate) {
    case 'min': {
      let m = Number.POSITIVE_INFINITY;
      for (let k = 0; k < rewards.length; k++) m = Math.min(m, rewards[k]);
      return m;
    }
    case 'sum':
      return sumOf(rewards);
    case 'last':
      return rewards[rewards.length - 1];
    case 'mean':
      return sumOf(rewards) / rewards.length;
  }
}

function sumOf(xs: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < xs.length; k++) s += xs[k];
  return s;
}

/** What a trace's rewards come down to: its score, q_n, and q_k of every step. */
export interface RewardSummary {
  score: number;
  outcome_reward: number;
  /** q_k for k = 1..n; the steps and their rewards are made from it (stepsOf). */
  q: Float64Array;
}

function checkLengths(input: RewardInput): void {
  const { policy, reference, stepTokens } = input;
  const total = stepTokens.reduce((a, b) => a + b, 0);
  if (stepTokens.length === 0) throw new RangeError('a trace needs at least one step');
  if (total !== policy.length) {
    throw new RangeError(`step token counts sum to ${total} but there are ${policy.length} policy log-probs`);
  }
  if (reference !== null && reference.length !== policy.length) {
    throw new RangeError(`${reference.length} reference log-probs for ${policy.length} policy log-probs`);
  }
}

/** ℓ_i of token i. */
function logRatio(policy: ArrayLike<number>, reference: ArrayLike<number> | null, i: number): number {
  return reference === null ? policy[i] : policy[i] - reference[i];
}

/** r_k = q_k − q_{k−1}, with q_0 = 0. */
function stepReward(q: Float64Array, k: number): number {
  return q[k] - (k === 0 ? 0 : q[k - 1]);
}

export function rewardSummary(input: RewardInput, aggregate: Aggregate): RewardSummary {
  checkLengths(input);
  const { policy, reference, stepTokens, beta } = input;
  const q = new Float64Array(stepTokens.length);
  const rewards = new Float64Array(stepTokens.length);
  // Σℓ is accumulated unscaled and multiplied by β once per step, so q_n is exactly β·Σℓ
  // whatever the step boundaries (no drift from summing per-step differences).
  let sumL = 0;
  let i = 0;
  stepTokens.forEach((n, k) => {
    for (let j = 0; j < n; j++, i++) sumL += logRatio(policy, reference, i);
    q[k] = beta * sumL;
    rewards[k] = stepReward(q, k);
  });
  return { score: aggregateRewards(rewards, aggregate), outcome_reward: q[q.length - 1], q };
}

/** The steps of a summary: r_k = q_k − q_{k−1}, v_k = σ(q_k), and each step's token count. */
export function stepsOf(q: Float64Array, stepTokens: readonly number[]): RewardStep[] {
  return stepTokens.map((n, k) => ({ reward: stepReward(q, k), q: q[k], value: sigmoid(q[k]), tokens: n }));
}

/** β·ℓ_i grouped by step. */
export function tokenRewardsOf(input: RewardInput): number[][] {
  checkLengths(input);
  const { policy, reference, stepTokens, beta } = input;
  let i = 0;
  return stepTokens.map((n) => {
    const tr: number[] = [];
    for (let j = 0; j < n; j++, i++) tr.push(beta * logRatio(policy, reference, i));
    return tr;
  });
}
