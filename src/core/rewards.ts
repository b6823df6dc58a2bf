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
  aggregate: Aggregate;
  tokenRewards: boolean;
}

export interface RewardStep {
  reward: number;
  q: number;
  value: number;
  tokens: number;
}

export interface RewardOutput {
  score: number;
  outcome_reward: number;
  steps: RewardStep[];
  /** β·ℓ_i grouped by step (only when asked for). */
  token_rewards?: number[][];
}

/** σ(x) without overflow: exp is only ever taken of a non-positive number. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

export function aggregateRewards(rewards: readonly number[], aggregate: Aggregate): number {
  switch (aggregate) {
    case 'min':
      return Math.min(...rewards);
    case 'sum': {
      let s = 0;
      for (const r of rewards) s += r;
      return s;
    }
    case 'last':
      return rewards[rewards.length - 1];
    case 'mean': {
      let s = 0;
      for (const r of rewards) s += r;
      return s / rewards.length;
    }
  }
}

export function computeRewards(input: RewardInput): RewardOutput {
  const { policy, reference, stepTokens, beta, aggregate } = input;
  const total = stepTokens.reduce((a, b) => a + b, 0);
  if (stepTokens.length === 0) throw new RangeError('a trace needs at least one step');
  if (total !== policy.length) {
    throw new RangeError(`step token counts sum to ${total} but there are ${policy.length} policy log-probs`);
  }
  if (reference !== null && reference.length !== policy.length) {
    throw new RangeError(`${reference.length} reference log-probs for ${policy.length} policy log-probs`);
  }

  const steps: RewardStep[] = [];
  const tokenRewards: number[][] | undefined = input.tokenRewards ? [] : undefined;
  // Σℓ is accumulated unscaled and multiplied by β once per step, so q_n is exactly β·Σℓ
  // whatever the step boundaries (no drift from summing per-step differences).
  let sumL = 0;
  let prevQ = 0;
  let i = 0;
  for (const n of stepTokens) {
    const tr: number[] | undefined = tokenRewards ? [] : undefined;
    for (let j = 0; j < n; j++, i++) {
      const l = reference === null ? policy[i] : policy[i] - reference[i];
      sumL += l;
      tr?.push(beta * l);
    }
    const q = beta * sumL;
    steps.push({ reward: q - prevQ, q, value: sigmoid(q), tokens: n });
    tokenRewards?.push(tr!);
    prevQ = q;
  }
  const rewards = steps.map((s) => s.reward);
  const out: RewardOutput = { score: aggregateRewards(rewards, aggregate), outcome_reward: prevQ, steps };
  if (tokenRewards) out.token_rewards = tokenRewards;
  return out;
}
