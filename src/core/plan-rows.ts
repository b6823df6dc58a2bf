/**
 * The row planner: what a trace still needs from the engine once the caches have answered, as
 * pure functions of token ids and counts (no caches, no models, no promises here).
 *
 * A trace is segments [prompt, step 1, ..., step n] laid end to end. Its log-prob cache hits cover
 * its first `cachedSteps` steps; the first token still needed is then at `need`, the start of step
 * cachedSteps + 1, and predicting it takes the token before it. A past of `from` positions (a KV
 * cache hit, or the prompt's KV computed once for several rows) lets the row feed only tokens
 * from..total − 2: the last token predicts nothing.
 */
import { newSegment } from '../cache/logprob-cache.js';

/** Start offset of every segment in the laid-out trace, plus the total length at the end. */
export function segmentOffsets(segments: readonly ArrayLike<number>[]): number[] {
  const out = [0];
  for (const s of segments) out.push(out[out.length - 1] + s.length);
  return out;
}

function concat(segments: readonly ArrayLike<number>[], total: number): Int32Array {
  const out = new Int32Array(total);
  let at = 0;
  for (const s of segments) {
    for (let i = 0; i < s.length; i++) out[at + i] = s[i];
    at += s.length;
  }
  return out;
}

/** Position of the first token whose log-prob is still needed: the start of step cachedSteps + 1. */
export function firstNeeded(segments: readonly ArrayLike<number>[], cachedSteps: number): number {
  return segmentOffsets(segments)[cachedSteps + 1];
}

/** Positions of a KV cache hit a row may use: all but the token before the first needed one, which is re-fed. */
export function usableHitLength(hitLength: number, need: number): number {
  return Math.min(hitLength, need - 1);
}

export interface PlannedRow {
  /** Tokens fed: positions from..total − 1 (the last token predicts nothing, but is fed). */
  tokens: Int32Array;
  /** Per fed token, the next token's id where its log-prob is needed, else −1. */
  targets: Int32Array;
  from: number;
  need: number;
  total: number;
}

/** The row feeding a trace from position `from` (its past's length), asking for tokens from `need` on. */
export function planRow(segments: readonly ArrayLike<number>[], cachedSteps: number, from: number): PlannedRow {
  const total = segmentOffsets(segments)[segments.length];
  const need = firstNeeded(segments, cachedSteps);
  const full = concat(segments, total);
  const tokens = full.subarray(from);
  const targets = new Int32Array(tokens.length).fill(-1);
  for (let p = Math.max(from, need - 1); p < total - 1; p++) targets[p - from] = full[p + 1];
  return { tokens, targets, from, need, total };
}

/** The forward row scoring a whole trace with no past and no cache: every response token asked for. */
export function wholeTraceRow(segments: readonly ArrayLike<number>[]): { tokens: Int32Array; targets: Int32Array; promptLength: number } {
  const { tokens, targets } = planRow(segments, 0, 0);
  const total = tokens.length;
  return { tokens: tokens.subarray(0, total - 1), targets: targets.subarray(0, total - 1), promptLength: segments[0].length };
}

/** Per-token log-probs of a trace's response, both models (reference null when reference-free). */
export interface ResponseLogprobs {
  policy: Float32Array;
  reference: Float32Array | null;
}

/** Log-probs of the cached steps, written at their places in a response-sized pair of arrays. */
export function fromCachedSteps(
  segments: readonly ArrayLike<number>[],
  cached: readonly ResponseLogprobs[],
  hasReference: boolean,
): ResponseLogprobs & { cachedTokens: number } {
  const off = segmentOffsets(segments);
  const responseLength = off[off.length - 1] - off[1];
  const policy = new Float32Array(responseLength);
  const reference = hasReference ? new Float32Array(responseLength) : null;
  let cachedTokens = 0;
  cached.forEach((step, k) => {
    policy.set(step.policy, off[k + 1] - off[1]);
    reference?.set(step.reference!, off[k + 1] - off[1]);
    cachedTokens += segments[k + 1].length;
  });
  return { policy, reference, cachedTokens };
}

/** Writes a row's log-probs (position p predicts token p + 1) into the response arrays. */
export function scatterRow(row: PlannedRow, computed: ResponseLogprobs, into: ResponseLogprobs, responseStart: number): void {
  for (let t = row.need; t < row.total; t++) {
    into.policy[t - responseStart] = computed.policy[t - 1 - row.from];
    if (into.reference) into.reference[t - responseStart] = computed.reference![t - 1 - row.from];
  }
}

/** The log-probs of steps first..n, one entry per step, cut out of the response arrays. */
export function stepSlices(segments: readonly ArrayLike<number>[], first: number, lp: ResponseLogprobs): ResponseLogprobs[] {
  const off = segmentOffsets(segments);
  const out: ResponseLogprobs[] = [];
  for (let k = first; k < segments.length; k++) {
    const a = off[k] - off[1];
    const b = off[k + 1] - off[1];
    out.push(stepCopy(lp, a, b));
  }
  return out;
}

/** Tokens a..b of both arrays, copied into a cache entry of their own (newSegment). */
function stepCopy(lp: ResponseLogprobs, a: number, b: number): ResponseLogprobs {
  const step = newSegment(b - a, lp.reference !== null);
  step.policy.set(lp.policy.subarray(a, b));
  step.reference?.set(lp.reference!.subarray(a, b));
  return step;
}

/**
 * How many of a request's traces would compute each prompt from scratch (no KV cache hit, a
 * prompt of two or more tokens, steps left to compute), keyed by the prompt's key.
 */
export function promptDemand(candidates: readonly { promptKey: string; wouldComputePrompt: boolean }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of candidates) if (c.wouldComputePrompt) counts.set(c.promptKey, (counts.get(c.promptKey) ?? 0) + 1);
  return counts;
}
