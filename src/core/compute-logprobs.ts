/**
 * Per-response-token log-probs of prepared items, uncached: one row per item, all items as one
 * batch. The forward pass itself is isolated in `runForward`, the single place that calls the
 * engine, so a batcher or cache layer can replace `computeLogprobs` without touching the maths.
 */
import type { ForwardResult, ForwardRow, LogprobModel } from '../engine/types.js';
import { throwIfAborted } from '../abort.js';
import { onCpuLane } from '../engine/cpu-lane.js';
import { metrics } from '../metrics.js';

export interface ModelPair {
  policy: LogprobModel;
  /** null for a reference-free bundle. */
  reference: LogprobModel | null;
}

export interface ItemLogprobs {
  /** One value per response token (segments 1..n concatenated). */
  policy: Float32Array;
  reference: Float32Array | null;
  /** Response tokens whose log-probs came from a cache (always 0 here). */
  cachedTokens: number;
}

export interface SegmentedItem {
  /** [prompt segment, step 1, ..., step n] token ids. */
  readonly segments: readonly ArrayLike<number>[];
}

/**
 * The forward row scoring a whole trace: every token but the last is fed (the last predicts
 * nothing), and position i asks for token i + 1 from the last prompt token on.
 */
export function traceRow(segments: readonly ArrayLike<number>[]): { row: ForwardRow; promptLength: number } {
  let total = 0;
  for (const s of segments) total += s.length;
  const all = new Int32Array(total);
  let at = 0;
  for (const s of segments) {
    for (let i = 0; i < s.length; i++) all[at + i] = s[i];
    at += s.length;
  }
  const promptLength = segments[0].length;
  const tokens = all.subarray(0, total - 1);
  const targets = new Int32Array(total - 1).fill(-1);
  for (let i = promptLength - 1; i < total - 1; i++) targets[i] = all[i + 1];
  return { row: { tokens, targets }, promptLength };
}

/**
 * Runs the policy and (when present) the reference, concurrently; on the CPU, one batch at a time
 * across the process (engine/cpu-lane.ts). The reference gets the same
 * rows unless `referenceRows` differ (their pasts are the reference's own KV).
 */
export async function runForward(
  models: ModelPair,
  rows: readonly ForwardRow[],
  signal?: AbortSignal,
  referenceRows: readonly ForwardRow[] = rows,
): Promise<{ policy: ForwardResult[]; reference: ForwardResult[] | null }> {
  throwIfAborted(signal);
  const end = metrics.inferDuration.startTimer();
  try {
    const [policy, reference] = await onCpuLane([models.policy, models.reference], () => {
      // Checked again at the head of the lane: a batch cancelled while waiting is never run.
      throwIfAborted(signal);
      return Promise.allSettled([
        models.policy.forward(rows, signal),
        models.reference ? models.reference.forward(referenceRows, signal) : Promise.resolve(null),
      ]);
    });
    if (policy.status === 'fulfilled' && reference.status === 'fulfilled') return { policy: policy.value, reference: reference.value };
    // One side failed: the KV the other side kept would have no owner, so it is freed here.
    const free = (model: LogprobModel, results: ForwardResult[]) => {
      for (const r of results) for (const kv of [r.kv, r.prefixKv]) if (kv) model.releaseKv(kv);
    };
    if (policy.status === 'fulfilled') free(models.policy, policy.value);
    if (reference.status === 'fulfilled' && reference.value) free(models.reference!, reference.value);
    throw policy.status === 'rejected' ? policy.reason : (reference as PromiseRejectedResult).reason;
  } finally {
    end();
  }
}

/** Log-probs of every response token of every item, in item order. */
export async function computeLogprobs(
  models: ModelPair,
  items: readonly SegmentedItem[],
  signal?: AbortSignal,
): Promise<ItemLogprobs[]> {
  if (items.length === 0) return [];
  const built = items.map((it) => traceRow(it.segments));
  const out = await runForward(models, built.map((b) => b.row), signal);
  return built.map(({ promptLength }, i) => {
    // Position promptLength − 1 predicts the first response token.
    const from = promptLength - 1;
    return {
      policy: out.policy[i].logprobs.slice(from),
      reference: out.reference ? out.reference[i].logprobs.slice(from) : null,
      cachedTokens: 0,
    };
  });
}
