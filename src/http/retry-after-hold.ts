/**
 * A connection whose scoring request was refused for the backlog (503 with Retry-After) has its
 * next scoring request held until that time, before anything else is done with it, when the
 * backlog would still refuse a request with the refused one's deadline: the server waits out the
 * time it gave instead of refusing again. Refusals are cheap but not free: without this, clients
 * that ignore Retry-After resend as fast as they are refused, and under overload the event loop
 * spends its turns refusing them instead of serving the requests it admitted. A client that
 * honours Retry-After, or whose next request on the connection could be admitted (the backlog
 * has drained, another route), is not held. A held request costs a timer and its buffered bytes
 * (a large body waits in the socket, unread); it is then served or refused as any other.
 * Draining for shutdown lets every held request go at once (releaseAll), so a request sent
 * before SIGTERM is answered, not dropped.
 */
import { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { ScoringService } from '../core/types.js';
import { deadlineMsOf } from './request-signal.js';

export interface RetryAfterHold {
  /** Lets every held request go now. */
  releaseAll(): void;
}

export interface HoldOptions {
  /** REQUEST_TIMEOUT_MS: the deadline of a request refused before its route ran (backlog-door.ts). */
  longestDeadlineMs: number;
  /** The longest a request is held, below BODY_TIMEOUT_MS (which keeps running while it is held). */
  maxHoldMs: number;
}

/** What a refusal on a connection leaves for its next request. */
interface Refused {
  /** performance.now() time the Retry-After points to. */
  until: number;
  /** The refused request's deadline, ms. */
  deadlineMs: number;
}

export function installRetryAfterHold(app: FastifyInstance, scoring: Pick<ScoringService, 'backlogRefusal'>, opts: HoldOptions): RetryAfterHold {
  const refused = new WeakMap<Socket, Refused>();
  const waiting = new Set<() => void>();
  const wait = (ms: number) => new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      waiting.delete(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    waiting.add(done);
  });
  app.addHook('onRequest', async (request) => {
    const last = refused.get(request.raw.socket);
    if (last === undefined) return;
    refused.delete(request.raw.socket);
    const now = performance.now();
    // Once draining, nothing is held: the connection closes after this answer.
    if (last.until <= now || app.isDraining() || request.routeOptions.config.queuesWork !== true) return;
    if (scoring.backlogRefusal(now + last.deadlineMs) === null) return;
    await wait(Math.min(last.until - now, opts.maxHoldMs));
  });
  app.addHook('onResponse', async (request, reply) => {
    const retryAfterS = Number(reply.getHeader('retry-after'));
    if (reply.statusCode !== 503 || !(retryAfterS > 0) || request.routeOptions.config.queuesWork !== true) return;
    // Requests injected in-process have no connection to hold.
    if (!(request.raw.socket instanceof Socket)) return;
    refused.set(request.raw.socket, { until: performance.now() + retryAfterS * 1000, deadlineMs: deadlineMsOf(reply) ?? opts.longestDeadlineMs });
  });
  const releaseAll = () => {
    for (const done of [...waiting]) done();
  };
  app.addHook('onClose', async () => releaseAll());
  return { releaseAll };
}
