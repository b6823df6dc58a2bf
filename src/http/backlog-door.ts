/**
 * Scoring requests refused before their body is read when the engine's backlog alone outlasts the
 * longest deadline a request can have (REQUEST_TIMEOUT_MS; a request's timeout_ms only shortens
 * it). Such a request would be refused after parsing anyway (score-request.ts checks the same
 * backlog before tokenizing); refusing it at the door costs a header parse instead of reading,
 * decoding, parsing and validating its body, which is what lets the event loop keep serving the
 * admitted requests while clients that ignore Retry-After resend at once.
 */
import type { FastifyInstance } from 'fastify';
import type { ScoringService } from '../core/types.js';
import { metrics } from '../metrics.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route queues engine work: its requests meet the backlog door. */
    queuesWork?: boolean;
  }
}

export function installBacklogDoor(app: FastifyInstance, scoring: Pick<ScoringService, 'backlogRefusal'>, longestDeadlineMs: number): void {
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.queuesWork !== true) return;
    const refusal = scoring.backlogRefusal(performance.now() + longestDeadlineMs);
    if (refusal === null) return;
    metrics.rejected.inc({ reason: 'overloaded' });
    throw refusal;
  });
}
