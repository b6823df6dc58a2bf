/**
 * Request count and duration per route and status, recorded once per response. The route label is
 * the route's pattern (`/v1/score`), never the raw URL, so unknown paths cannot grow the label set.
 */
import type { FastifyInstance } from 'fastify';
import { metrics } from '../metrics.js';

export function installRequestMetrics(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, status: String(reply.statusCode) });
    metrics.requestDuration.observe({ route }, reply.elapsedTime / 1000);
  });
}
