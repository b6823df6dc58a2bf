/**
 * Optional per-client rate limit on the inference routes (@fastify/rate-limit, in-process store):
 * RATE_LIMIT_PER_MINUTE requests per minute per API key, or per client address when the request
 * carries no valid key. Probes, metrics, docs and admin calls are never limited: an operator must
 * be able to look at a server that is busy turning clients away.
 *
 * The count is per process. Behind N replicas a client gets up to N times the limit; the limit is
 * there to stop one runaway client from starving the others, not to meter usage.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCode, PrmError } from '../errors.js';
import { metrics } from '../metrics.js';
import { accessClassOf } from './auth.js';

export async function installRateLimit(app: FastifyInstance, perMinute: number): Promise<void> {
  if (perMinute <= 0) return;
  await app.register(rateLimit, {
    global: true,
    max: perMinute,
    timeWindow: 60_000,
    // The auth hook (registered first) has set `principal` for a valid key.
    keyGenerator: (request: FastifyRequest) => request.principal ?? `ip:${request.ip}`,
    allowList: (request: FastifyRequest) => accessClassOf(request.routeOptions.url) !== 'inference',
    errorResponseBuilder: (_request, context) => {
      metrics.rejected.inc({ reason: 'rate_limited' });
      return new PrmError(ErrorCode.RATE_LIMITED, `more than ${context.max} requests per minute; retry in ${context.after}`, {
        retryAfterS: context.ttl / 1000,
      });
    },
  });
}
