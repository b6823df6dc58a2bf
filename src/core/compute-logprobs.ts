/**
 * Per-response-token log-probs of segmented traces with no cache and no batcher: one row per
 * trace, all of them as one batch. The reference computation the cached path must agree with
 * (tests, the golden fixtures), kept apart from the request path.
 */
import type { ModelPair } from '../engine/model-pair.js';
import type { ItemLogprobs } from './logprob-pipeline.js';
import { wholeTraceRow } from './plan-rows.js';

export interface SegmentedItem {
  /** [prompt segment, step 1, ..., step n] token ids. */
  readonly segments: readonly ArrayLike<number>[];
}

/** Log-probs of every response token of every item, in item order. */
export async function computeLogprobs(models: ModelPair, items: readonly SegmentedItem[], signal?: AbortSignal): Promise<ItemLogprobs[]> {
  if (items.length === 0) return [];
  const rows = items.map((it) => wholeTraceRow(it.segments));
  const out = await models.forward(rows, signal);
  return rows.map(({ promptLength }, i) => {
    // Position promptLength − 1 predicts the first response token.
    const from = promptLength - 1;
    return { policy: out[i].policy.slice(from), reference: out[i].reference?.slice(from) ?? null, cachedTokens: 0 };
  });
}
