/**
 * Whether a request's rows may join the queue, decided for the request as a whole before any of
 * them is queued. Under overload a queue that takes every row it has room for makes every request
 * wait behind the same backlog, so all of them finish late: their rows run, their answers are
 * 504s, and the engine's time is spent on nothing. Refusing at the door what cannot finish in
 * time keeps the engine on requests that will be answered, and tells the refused client, with
 * Retry-After, when the backlog will have drained. Pure, so it is tested on its own.
 */
import { ErrorCode, PrmError } from '../errors.js';
import type { TokenRate } from './token-rate.js';

/**
 * A request is admitted when the backlog ahead of it and its own tokens should be done within this
 * share of the time its deadline leaves: the rate is an estimate, and a request admitted just
 * short of its deadline that then misses it is the most expensive failure there is.
 */
export const ADMIT_WITHIN_FRACTION = 0.8;
/** Retry-After, seconds: at least 1 (the header's unit), at most what a client should sleep blindly. */
const RETRY_AFTER_MIN_S = 1;
const RETRY_AFTER_MAX_S = 60;

export interface QueueLoad {
  /** Rows queued or held for admitted requests. */
  rows: number;
  /** Their tokens, plus the part of the running batch still to do. */
  tokens: number;
}

export interface Demand {
  rows: number;
  tokens: number;
  /** performance.now() time by which the request must be answered; none = no time check. */
  deadlineAt?: number;
  now: number;
}

export function queueRefusal(load: QueueLoad, demand: Demand, maxQueueRows: number, rate: TokenRate): PrmError | null {
  if (demand.rows > 0 && load.rows + demand.rows > maxQueueRows) {
    return new PrmError(ErrorCode.OVERLOADED, `the scoring queue is full (${load.rows} of ${maxQueueRows} rows taken; this request needs ${demand.rows})`, { retryAfterS: retryAfter(rate.secondsFor(load.tokens)) });
  }
  if (demand.deadlineAt === undefined) return null;
  const backlogS = rate.secondsFor(load.tokens);
  const ownS = rate.secondsFor(demand.tokens);
  if (backlogS === undefined || ownS === undefined) return null;
  const leftS = (demand.deadlineAt - demand.now) / 1000;
  if (backlogS + ownS <= leftS * ADMIT_WITHIN_FRACTION) return null;
  if (ownS > leftS * ADMIT_WITHIN_FRACTION) {
    return new PrmError(ErrorCode.DEADLINE_EXCEEDED, `this request needs about ${ownS.toFixed(1)} s of engine time, more than its deadline leaves (${leftS.toFixed(1)} s); send fewer items or a longer timeout_ms`);
  }
  return new PrmError(ErrorCode.OVERLOADED, `the scoring queue holds about ${backlogS.toFixed(1)} s of work; this request would not finish within its deadline`, { retryAfterS: retryAfter(backlogS) });
}

function retryAfter(backlogS: number | undefined): number {
  return Math.min(RETRY_AFTER_MAX_S, Math.max(RETRY_AFTER_MIN_S, Math.ceil(backlogS ?? 0)));
}
