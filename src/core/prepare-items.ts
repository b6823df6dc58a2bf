/**
 * Request items → token segments, the first stage of scoring. Its output is all the later stages
 * (caches, batcher, engine, rewards) need, so they never see text.
 *
 * A trace comes as text or as token ids of the model's tokenizer (token-items.ts, taken as they
 * are). The steps of a text trace come as explicit `steps` or as a `response` string cut at the bundle's step
 * separator, by one of two rules: /v1/score cuts strictly (an empty piece is an empty step, refused
 * as EMPTY_STEP), /get_reward keeps blank pieces inside the step before them (RL samples hold
 * doubled separators, and one refusal would lose a whole batch's rewards).
 */
import type { RenderedSegments, Segmenter, Segments } from '../bundle/segmenter.js';
import { OFFLOAD_CHARS, type OffloadedSegmenter } from '../bundle/segment-pool.js';
import { throwIfAborted } from '../abort.js';
import { ErrorCode, PrmError } from '../errors.js';
import { isTokenItem, tokenFieldsOf, tokenSegments } from './token-items.js';
import type { ScoreItemInput, TextItemInput } from './types.js';
import { TimeSlices } from '../util/time-slices.js';

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
  /** With PrepareOptions.render: a text item's rendered text and token offsets; null for token ids. */
  rendered?: RenderedText | null;
}

/** What the model saw of a text item, and where each step token lies in its response. */
export type RenderedText = Pick<RenderedSegments, 'promptText' | 'responseText' | 'stepOffsets'>;

export interface PrepareOptions {
  /** The trace continues after its last step (see ScoreOptions.partial). */
  partial?: boolean;
  /** Prompt + response tokens per item and per call before TOO_MANY_TOKENS; default: no limit. */
  maxTokensPerItem?: number;
  maxTokensPerRequest?: number;
  /** Ids of token id items must be below this (the model's vocab_size); default: the tokenizer's. */
  vocabSize?: number;
  /** Also keep each text item's rendered text and token offsets (PreparedItem.rendered). */
  render?: boolean;
  /** Aborts tokenization between items (deadline, client gone). */
  signal?: AbortSignal;
  /** The same segmenter on other threads: items with OFFLOAD_CHARS of text go there (segment-pool.ts). */
  offload?: OffloadedSegmenter;
}


/**
 * Segments every item; an item's error names the item (e.g. `items[2]: step 1 of 3 ...`). The
 * token limits are checked as items are tokenized, and an item with more steps than the per-item
 * limit or the model's sequence length (each step is at least one token) is refused before it is
 * tokenized: an oversized request fails at its first excess, not after all of it is tokenized.
 */
export async function prepareItems(segmenter: Segmenter, items: readonly ScoreItemInput[], opts: PrepareOptions = {}): Promise<PreparedItem[]> {
  const perItem = opts.maxTokensPerItem ?? Number.POSITIVE_INFINITY;
  const perRequest = opts.maxTokensPerRequest ?? Number.POSITIVE_INFINITY;
  const out: PreparedItem[] = [];
  let total = 0;
  // Tokenizing gives the event loop back between slices, so probes and other requests go on.
  const slices = new TimeSlices();
  for (let index = 0; index < items.length; index++) {
    if (slices.due) {
      await slices.pass();
      throwIfAborted(opts.signal);
    }
    const item = await prepareOne(segmenter, items[index]!, index, opts);
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

async function prepareOne(segmenter: Segmenter, item: ScoreItemInput, index: number, opts: PrepareOptions): Promise<PreparedItem> {
  const partial = opts.partial === true;
  try {
    const limits = { vocabSize: opts.vocabSize ?? segmenter.vocabSize, maxSequenceLength: segmenter.maxSequenceLength };
    const seg = isTokenItem(item) ? { ...tokenSegments(item, limits), rendered: null } : await textSegments(segmenter, item, opts);
    const stepTokens = seg.steps.map((s) => s.length);
    const prepared: PreparedItem = {
      id: item.id ?? String(index),
      segments: [seg.prompt, ...seg.steps],
      promptTokens: seg.prompt.length,
      stepTokens,
      responseTokens: stepTokens.reduce((a, b) => a + b, 0),
      partial,
    };
    if (opts.render) prepared.rendered = seg.rendered;
    return prepared;
  } catch (err) {
    if (err instanceof PrmError) {
      const label = item.id === undefined ? `items[${index}]` : `items[${index}] (id ${JSON.stringify(item.id)})`;
      throw new PrmError(err.code, `${label}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/** The segments of a text item (segmenter.ts), rendered with offsets when asked for. */
async function textSegments(segmenter: Segmenter, item: TextItemInput, opts: PrepareOptions): Promise<Segments & { rendered?: RenderedText }> {
  const perItem = opts.maxTokensPerItem ?? Number.POSITIVE_INFINITY;
  const steps = stepsOf(item, segmenter.separator);
  if (steps.length > Math.min(perItem, segmenter.maxSequenceLength)) {
    const [code, limit] = perItem <= segmenter.maxSequenceLength ? [ErrorCode.TOO_MANY_TOKENS, `the ${perItem} tokens an item may have`] : [ErrorCode.SEQUENCE_TOO_LONG, `the ${segmenter.maxSequenceLength} tokens this model takes`];
    throw new PrmError(code, `${steps.length} steps are more than ${limit}`);
  }
  const units = refuseTooLongText(segmenter, item.prompt, steps, perItem);
  const by = opts.offload !== undefined && units >= OFFLOAD_CHARS ? opts.offload : segmenter;
  const how = { partial: opts.partial === true, signal: opts.signal };
  if (!opts.render) return by.segment(item.prompt, steps, how);
  const { promptText, responseText, stepOffsets, ...segments } = await by.render(item.prompt, steps, how);
  return { ...segments, rendered: { promptText, responseText, stepOffsets } };
}

/**
 * Refuses, before tokenizing, a text whose length alone shows it cannot fit (token-length-bound.ts);
 * returns the length (UTF-16 units).
 */
function refuseTooLongText(segmenter: Segmenter, prompt: string, steps: readonly string[], perItem: number): number {
  const units = steps.reduce((n, s) => n + s.length, prompt.length);
  const fewest = segmenter.fewestTokens(units);
  const limit = Math.min(perItem, segmenter.maxSequenceLength);
  if (fewest <= limit) return units;
  const code = perItem <= segmenter.maxSequenceLength ? ErrorCode.TOO_MANY_TOKENS : ErrorCode.SEQUENCE_TOO_LONG;
  throw new PrmError(code, `the text has ${units} characters, at least ${fewest} tokens for this tokenizer; the limit is ${limit} tokens`);
}

export interface StepsOrResponse {
  steps?: string[];
  response?: string;
}

/** Exactly one of `steps` and `response`; otherwise INVALID_REQUEST, its message led by `label`. */
export function checkStepsOrResponse(item: StepsOrResponse, label: string): void {
  if ((item.steps === undefined) === (item.response === undefined)) {
    throw new PrmError(ErrorCode.INVALID_REQUEST, `${label} must have exactly one of 'steps' or 'response'`);
  }
}

const TEXT_FIELDS = ['prompt', 'steps', 'response'] as const;

/**
 * An item is one of the two forms, whole: text (`prompt` with one of `steps`/`response`) or token
 * ids (`prompt_ids`, `response_ids` and `step_ends`, token-items.ts). Anything else is
 * INVALID_REQUEST, its message led by `label`.
 */
export function checkItemForm(item: Record<string, unknown>, label: string): void {
  const ids = tokenFieldsOf(item);
  const text = TEXT_FIELDS.filter((f) => item[f] !== undefined);
  if (ids.present.length > 0 && text.length > 0) {
    throw new PrmError(ErrorCode.INVALID_REQUEST, `${label} mixes text fields (${text.join(', ')}) with token id fields (${ids.present.join(', ')}); an item is text or token ids, not both`);
  }
  if (ids.present.length > 0) {
    if (ids.missing.length > 0) {
      throw new PrmError(ErrorCode.INVALID_REQUEST, `${label} is a token id item without ${ids.missing.join(', ')}; it needs prompt_ids, response_ids and step_ends`);
    }
    return;
  }
  if (text.length === 0) {
    throw new PrmError(ErrorCode.INVALID_REQUEST, `${label} needs 'prompt' with 'steps' or 'response', or 'prompt_ids', 'response_ids' and 'step_ends'`);
  }
  if (item.prompt === undefined) throw new PrmError(ErrorCode.INVALID_REQUEST, `${label}.prompt is required`);
  checkStepsOrResponse(item, label);
}

/**
 * The steps of a response string, /v1/score's rule. The response is split at every occurrence of
 * the separator. Exactly one trailing separator is dropped (it ends the last step rather than
 * starting an empty one), so "a\nb\n" and "a\nb" both give ["a", "b"], and the trailing separator
 * is not scored: both score the same tokens as steps ["a", "b"] sent explicitly. Anything else is
 * kept verbatim, so an empty piece in the middle ("a\n\nb" with "\n") is an empty step and is
 * rejected like an explicit empty step. An empty response has no steps (EMPTY_STEPS); a response
 * that is only a separator is one empty step (EMPTY_STEP), exactly like steps [""].
 */
export function splitResponse(response: string, separator: string): string[] {
  const parts = response.split(separator);
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/**
 * The steps of a sampled response, /get_reward's rule: never an empty step. A blank piece is kept
 * inside the step before it (separator included), so the scored text is exactly the response;
 * one trailing separator is dropped, as splitResponse does.
 */
export function splitSampledResponse(response: string, separator: string): string[] {
  let text = response;
  if (text.endsWith(separator)) text = text.slice(0, -separator.length);
  const steps: string[] = [];
  for (const piece of text.split(separator)) {
    if (piece.trim() === '' && steps.length > 0) steps[steps.length - 1] += separator + piece;
    else steps.push(piece);
  }
  return steps;
}

/** The steps of an item: explicit `steps`, or `response` split by the separator (splitResponse). */
export function stepsOf(item: StepsOrResponse, separator: string): string[] {
  checkStepsOrResponse(item, 'the item');
  const steps = item.steps ?? splitResponse(item.response!, separator);
  if (steps.length === 0) throw new PrmError(ErrorCode.EMPTY_STEPS, 'the trace has no steps');
  return steps;
}
