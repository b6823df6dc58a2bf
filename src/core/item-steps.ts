/**
 * The steps of a trace as a request gives them: explicit `steps`, or a `response` string cut at
 * the bundle's step separator. Two cutting rules, one per endpoint: /v1/score cuts strictly (an
 * empty piece is an empty step, refused later as EMPTY_STEP), /get_reward keeps blank pieces
 * inside the step before them (RL samples hold doubled separators, and one refusal would lose a
 * whole batch's rewards).
 */
import { ErrorCode, PrmError } from '../errors.js';

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
