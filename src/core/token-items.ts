/**
 * Token id items: a trace given as ids of the model's own tokenizer, for a PRM that shares the
 * policy's tokenizer (dense rewards per policy token, as PRIME trains with). The ids are the
 * segments exactly as given — no template, no separator, no EOS added — so every token reward
 * lines up with one of the caller's tokens. Segments are cache keys by their ids alone
 * (segment-keys.ts), so a token id item and a text item that tokenizes to the same segments share
 * their cached work.
 */
import type { Segments } from '../bundle/segmenter.js';
import { ErrorCode, PrmError } from '../errors.js';
import type { ScoreItemInput, TokenItemInput } from './types.js';

/** What the model accepts of a token id item. */
export interface TokenLimits {
  /** Ids must lie in [0, vocabSize): the model's embedding rows. */
  vocabSize: number;
  /** Prompt + response tokens, as for text (SEQUENCE_TOO_LONG). */
  maxSequenceLength: number;
}

const ID_FIELDS = ['prompt_ids', 'response_ids', 'step_ends'] as const;

export function isTokenItem(item: ScoreItemInput): item is TokenItemInput {
  return ID_FIELDS.some((f) => (item as Partial<TokenItemInput>)[f] !== undefined);
}

/**
 * The token id fields an item holds, and those it lacks. An item is one of the two forms, whole:
 * text (`prompt` with one of `steps`/`response`) or all three token id fields.
 */
export function tokenFieldsOf(item: Record<string, unknown>): { present: string[]; missing: string[] } {
  return { present: ID_FIELDS.filter((f) => item[f] !== undefined), missing: ID_FIELDS.filter((f) => item[f] === undefined) };
}

/** The segments of a token id item, checked against the model: [prompt_ids, step 1, ..., step n]. */
export function tokenSegments(item: TokenItemInput, limits: TokenLimits): Segments {
  const { prompt_ids: prompt, response_ids: response, step_ends: ends } = item;
  checkIds(prompt, 'prompt_ids', limits.vocabSize);
  checkIds(response, 'response_ids', limits.vocabSize);
  if (prompt.length === 0) throw new PrmError(ErrorCode.EMPTY_PROMPT, 'prompt_ids is empty; the first response token needs context');
  if (ends.length === 0) throw new PrmError(ErrorCode.EMPTY_STEPS, 'step_ends is empty: the trace has no steps');
  checkStepEnds(ends, response.length);
  const total = prompt.length + response.length;
  if (total > limits.maxSequenceLength) {
    throw new PrmError(ErrorCode.SEQUENCE_TOO_LONG, `prompt + response is ${total} tokens; this model takes at most ${limits.maxSequenceLength}`);
  }
  return { prompt, steps: ends.map((end, k) => response.slice(k === 0 ? 0 : ends[k - 1], end)) };
}

function checkIds(ids: readonly number[], field: string, vocabSize: number): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id)) throw new PrmError(ErrorCode.INVALID_REQUEST, `${field}[${i}] = ${JSON.stringify(id)} is not an integer`);
    if (id < 0 || id >= vocabSize) {
      throw new PrmError(ErrorCode.TOKEN_ID_OUT_OF_RANGE, `${field}[${i}] = ${id} is not a token id of this model: ids must be in [0, ${vocabSize}) (its vocab_size); were they made by another tokenizer?`);
    }
  }
}

/** step_ends: strictly increasing exclusive ends, the last one the response's length. */
function checkStepEnds(ends: readonly number[], length: number): void {
  let previous = 0;
  ends.forEach((end, k) => {
    if (!Number.isInteger(end)) throw new PrmError(ErrorCode.INVALID_REQUEST, `step_ends[${k}] = ${JSON.stringify(end)} is not an integer`);
    if (end === previous) {
      throw new PrmError(ErrorCode.EMPTY_STEP, `step ${k + 1} of ${ends.length} has no tokens: step_ends[${k}] = ${end} equals ${k === 0 ? 'the start of the response' : `step_ends[${k - 1}]`}`);
    }
    if (end < previous) {
      throw new PrmError(ErrorCode.INVALID_REQUEST, `step_ends must be strictly increasing: step_ends[${k}] = ${end} is below ${k === 0 ? 'the start of the response (0)' : `step_ends[${k - 1}] = ${previous}`}`);
    }
    if (end > length) throw new PrmError(ErrorCode.INVALID_REQUEST, `step_ends[${k}] = ${end} is past the end of response_ids (${length} ids)`);
    previous = end;
  });
  if (previous !== length) {
    throw new PrmError(ErrorCode.INVALID_REQUEST, `the last step end is ${previous} but response_ids has ${length} ids: the last of step_ends must be response_ids.length, so that every response token belongs to a step`);
  }
}
