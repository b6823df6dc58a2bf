/**
 * Request items → token segments, the first stage of scoring. Its output is all the later stages
 * (caches, batcher, engine, rewards) need, so they never see text.
 */
import type { Segmenter } from '../bundle/segmenter.js';
import { throwIfAborted } from '../abort.js';
import { ErrorCode, PrmError } from '../errors.js';
import { stepsOf } from './item-steps.js';
import type { ScoreItemInput } from './types.js';

export interface PreparedItem {
  /** The item's id, or its index in the request as a string. */
  id: string;
  /** [prompt segment, step 1, ..., step n] token ids. */
  segments: (readonly number[])[];
  promptTokens: number;
  /** Token count of each step segment (separator and EOS included). */
  stepTokens: number[];
  responseTokens: number;
  /** The trace will be extended (ScoreOptions.partial): its KV is worth keeping in the KV cache. */
  partial: boolean;
}

export interface PrepareOptions {
  /** The trace continues after its last step (see ScoreOptions.partial). */
  partial?: boolean;
  /** Prompt + response tokens per item and per call before TOO_MANY_TOKENS; default: no limit. */
  maxTokensPerItem?: number;
  maxTokensPerRequest?: number;
  /** Aborts tokenization between items (deadline, client gone). */
  signal?: AbortSignal;
}

/** Tokenizing gives the event loop back after this long, so probes and other requests go on. */
const SLICE_MS = 10;

/**
 * Segments every item; an item's error names the item (e.g. `items[2]: step 1 of 3 ...`). The
 * token limits are checked as items are tokenized, and an item with more steps than the per-item
 * limit (each step is at least one token) is refused before it is tokenized: an oversized request
 * fails at its first excess, not after all of it is tokenized.
 */
export async function prepareItems(segmenter: Segmenter, items: readonly ScoreItemInput[], opts: PrepareOptions = {}): Promise<PreparedItem[]> {
  const perItem = opts.maxTokensPerItem ?? Number.POSITIVE_INFINITY;
  const perRequest = opts.maxTokensPerRequest ?? Number.POSITIVE_INFINITY;
  const out: PreparedItem[] = [];
  let total = 0;
  let sliceStart = performance.now();
  for (let index = 0; index < items.length; index++) {
    if (performance.now() - sliceStart > SLICE_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      throwIfAborted(opts.signal);
      sliceStart = performance.now();
    }
    const item = prepareOne(segmenter, items[index]!, index, opts.partial === true, perItem);
    const n = item.promptTokens + item.responseTokens;
    if (n > perItem) {
      throw new PrmError(ErrorCode.TOO_MANY_TOKENS, `items[${index}] has ${n} tokens (prompt + response); the limit is ${perItem} per item`);
    }
    total += n;
    if (total > perRequest) {
      throw new PrmError(ErrorCode.TOO_MANY_TOKENS, `the request has more than ${perRequest} tokens (prompts + responses) by items[${index}]; the limit is ${perRequest} per request`);
    }
    out.push(item);
  }
  return out;
}

function prepareOne(segmenter: Segmenter, item: ScoreItemInput, index: number, partial: boolean, perItem: number): PreparedItem {
  try {
    const steps = stepsOf(item, segmenter.separator);
    if (steps.length > perItem) {
      throw new PrmError(ErrorCode.TOO_MANY_TOKENS, `${steps.length} steps are more than the ${perItem} tokens an item may have`);
    }
    const seg = segmenter.segment(item.prompt, steps, { partial });
    const stepTokens = seg.steps.map((s) => s.length);
    return {
      id: item.id ?? String(index),
      segments: [seg.prompt, ...seg.steps],
      promptTokens: seg.prompt.length,
      stepTokens,
      responseTokens: stepTokens.reduce((a, b) => a + b, 0),
      partial,
    };
  } catch (err) {
    if (err instanceof PrmError) {
      const label = item.id === undefined ? `items[${index}]` : `items[${index}] (id ${JSON.stringify(item.id)})`;
      throw new PrmError(err.code, `${label}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}
