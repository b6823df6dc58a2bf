/**
 * Facts about the generated workloads that bound what the service can gain, computed before
 * anything runs, so the notes can predict a figure and the report can show how close it came:
 * the PyTorch scorer's padding (it sorts items by length and cuts batches of B), the prompt
 * tokens that rollouts of one prompt share, and the prefix tokens the tree rounds re-score.
 */
import { promptTokens, responseTokens, type Item, type TreeTrace } from './workloads.js';

export interface WorkloadStats {
  items: number;
  steps: { min: number; max: number };
  response_tokens: { min: number; mean: number; max: number; total: number };
  sequence_tokens_total: number;
  /** 1 − real/padded of the scorer's length-sorted batches of `batch_size`. */
  torch_padding_waste: number;
  /** Tokens a from-scratch scorer computes / tokens left once shared prompts run once. */
  prompt_share_factor: number;
}

export interface TreeStats extends WorkloadStats {
  /** Tokens re-scored over all rounds / tokens of the final traces (each computed once). */
  prefix_reuse_factor: number;
}

function seq(template: string, it: { prompt: string; steps: string[] }): number {
  return promptTokens(template, it.prompt) + responseTokens(it.steps);
}

export function torchPaddingWaste(lengths: number[], batchSize: number): number {
  const sorted = [...lengths].sort((a, b) => a - b);
  let real = 0;
  let padded = 0;
  for (let i = 0; i < sorted.length; i += batchSize) {
    const batch = sorted.slice(i, i + batchSize);
    real += batch.reduce((a, b) => a + b, 0);
    padded += batch.length * batch[batch.length - 1];
  }
  return padded > 0 ? 1 - real / padded : 0;
}

export function workloadStats(items: Item[], template: string, batchSize: number): WorkloadStats {
  const resp = items.map((it) => responseTokens(it.steps));
  const lens = items.map((it) => seq(template, it));
  const total = lens.reduce((a, b) => a + b, 0);
  const prompts = new Map<string, number>();
  for (const it of items) prompts.set(it.prompt, promptTokens(template, it.prompt));
  const shared = [...prompts.values()].reduce((a, b) => a + b, 0) + resp.reduce((a, b) => a + b, 0);
  return {
    items: items.length,
    steps: { min: Math.min(...items.map((it) => it.steps.length)), max: Math.max(...items.map((it) => it.steps.length)) },
    response_tokens: {
      min: Math.min(...resp),
      mean: resp.reduce((a, b) => a + b, 0) / resp.length,
      max: Math.max(...resp),
      total: resp.reduce((a, b) => a + b, 0),
    },
    sequence_tokens_total: total,
    torch_padding_waste: torchPaddingWaste(lens, batchSize),
    prompt_share_factor: total / shared,
  };
}

export function treeStats(roundItems: Item[], traces: TreeTrace[], template: string, batchSize: number): TreeStats {
  const base = workloadStats(roundItems, template, batchSize);
  const once = traces.reduce((n, t) => n + seq(template, t), 0);
  return { ...base, prefix_reuse_factor: base.sequence_tokens_total / once };
}
