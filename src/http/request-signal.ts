/**
 * One AbortSignal per scoring request that fires when the client goes away or the request's
 * deadline passes, so queued work for a dead request is dropped instead of computed. The reason
 * carried by the signal is the PrmError the client gets (504 DEADLINE_EXCEEDED) or that is logged
 * (499 CLIENT_CLOSED).
 */
import { setMaxListeners } from 'node:events';
import type { FastifyReply } from 'fastify';
import { ErrorCode, PrmError } from '../errors.js';
import { metrics } from '../metrics.js';

export interface RequestSignal {
  readonly signal: AbortSignal;
  /** Stops the timer and the disconnect listener; call when the response is decided. */
  dispose(): void;
}

export function requestSignal(reply: FastifyReply, deadlineMs: number): RequestSignal {
  const controller = new AbortController();
  // Every queued row of the request listens to this signal (up to MAX_ITEMS_PER_REQUEST rows and
  // their prompt passes), and each removes its listener when its batch starts: many listeners are
  // expected here, not a leak, so Node's warning at 11 would only be noise in the log.
  setMaxListeners(0, controller.signal);
  const timer = setTimeout(() => {
    metrics.rejected.inc({ reason: 'deadline' });
    controller.abort(new PrmError(ErrorCode.DEADLINE_EXCEEDED, `request did not finish within its ${deadlineMs} ms deadline`));
  }, deadlineMs);
  // 'close' on the response fires both after a normal finish and when the connection drops;
  // only the second leaves the response unfinished.
  const onClose = () => {
    if (!reply.raw.writableFinished && !controller.signal.aborted) {
      metrics.rejected.inc({ reason: 'client_closed' });
      controller.abort(new PrmError(ErrorCode.CLIENT_CLOSED, 'client closed the connection'));
    }
  };
  reply.raw.once('close', onClose);
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      reply.raw.off('close', onClose);
    },
  };
}

/**
 * Settles with `work`, or rejects with the signal's reason as soon as it aborts, whether or not the
 * work itself honours the signal: the client gets its 504 on time either way.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  // The loser of the race must not become an unhandled rejection.
  work.catch(() => undefined);
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** The deadline each request ran under, for what happens after its answer (retry-after-hold.ts). */
const deadlines = new WeakMap<FastifyReply, number>();

/** The deadline (ms) `reply`'s request ran under; undefined when it was answered before its route ran. */
export function deadlineMsOf(reply: FastifyReply): number | undefined {
  return deadlines.get(reply);
}

/**
 * Runs `fn` under a request signal and always disposes it; `fn` also gets the deadline as a
 * performance.now() time, so admission can refuse work that would finish after it.
 */
export async function withRequestSignal<T>(
  reply: FastifyReply,
  deadlineMs: number,
  fn: (signal: AbortSignal, deadlineAt: number) => Promise<T>,
): Promise<T> {
  deadlines.set(reply, deadlineMs);
  const deadlineAt = performance.now() + deadlineMs;
  const rs = requestSignal(reply, deadlineMs);
  try {
    return await untilAborted(fn(rs.signal, deadlineAt), rs.signal);
  } finally {
    rs.dispose();
  }
}
