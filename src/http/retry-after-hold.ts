/**
 * A connection that was answered 503 or 429 with Retry-After has its next request held until that
 * time has passed, before anything else is done with it (keys, rate limit, body budget, body).
 * A client that honours Retry-After never notices; one that resends at once on the same
 * connection waits out the time it was given, and is then served or refused as any other.
 * Refusals are cheap but not free: without this, clients that ignore Retry-After resend as fast as
 * they are refused, and under overload the event loop spends its turns refusing them instead of
 * serving the requests it admitted. A held request costs a timer and its buffered bytes (a large
 * body waits in the socket, unread). Draining for shutdown lets every held request go at once
 * (releaseAll), so a request sent before SIGTERM is answered, not dropped.
 */
import { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** The statuses whose Retry-After a connection is held to. */
const REFUSALS = new Set([429, 503]);

export interface RetryAfterHold {
  /** Lets every held request go now. */
  releaseAll(): void;
  /** Requests held now. */
  held(): number;
}

/**
 * `maxHoldMs`: the longest a request is held, below the time Node's server gives a whole request
 * (BODY_TIMEOUT_MS), which keeps running while it is held.
 */
export function installRetryAfterHold(app: FastifyInstance, maxHoldMs: number): RetryAfterHold {
  const notBefore = new WeakMap<Socket, number>();
  const waiting = new Set<() => void>();
  app.addHook('onRequest', async (request) => {
    const until = notBefore.get(request.raw.socket);
    // Once draining, nothing is held: the connection closes after this answer.
    if (until === undefined || app.isDraining()) return;
    notBefore.delete(request.raw.socket);
    const waitMs = Math.min(until - performance.now(), maxHoldMs);
    if (waitMs <= 0) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      waiting.add(done);
    });
  });
  app.addHook('onResponse', async (request, reply) => {
    const retryAfterS = Number(reply.getHeader('retry-after'));
    if (!REFUSALS.has(reply.statusCode) || !(retryAfterS > 0)) return;
    // Requests injected in-process have no connection to hold.
    if (request.raw.socket instanceof Socket) notBefore.set(request.raw.socket, performance.now() + retryAfterS * 1000);
  });
  const releaseAll = () => {
    for (const done of [...waiting]) done();
  };
  app.addHook('onClose', async () => releaseAll());
  return { releaseAll, held: () => waiting.size };
}
