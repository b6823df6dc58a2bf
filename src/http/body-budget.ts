/**
 * The requests with a body the server holds at once, and their bytes. A body is read into memory,
 * decoded and parsed, and what a request makes afterwards — tokens, log-probs, per-sample results,
 * its answer — stays until it is answered; the concurrency permit of a scoring call is taken only
 * after all that is parsed, /get_reward takes it chunk by chunk and /tokenize not at all. So
 * memory is bounded here, before a body is read (docs/reliability.md derives the bound): a request
 * with a body counts once against MAX_CONCURRENT_REQUESTS and its declared length (Content-Length,
 * or BODY_LIMIT_BYTES when the body comes chunked) against MAX_BODY_BYTES_IN_FLIGHT, from its first
 * byte until its answer is sent or the client goes away; one that does not fit beside the others
 * is answered 503 OVERLOADED with Retry-After, its body never read. A request alone is always
 * admitted, so a byte budget below BODY_LIMIT_BYTES still serves one large body at a time.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCode, PrmError } from '../errors.js';
import { metrics } from '../metrics.js';

const holding = new WeakMap<FastifyRequest, number>();

/** The bytes `request` may bring: its declared length, or the body limit when it declares none. */
function declaredBytes(request: FastifyRequest, bodyLimit: number): number {
  const length = request.headers['content-length'];
  if (length !== undefined) return Math.min(Number(length) || 0, bodyLimit);
  return request.headers['transfer-encoding'] !== undefined ? bodyLimit : 0;
}

export interface BodyBudget {
  /** Requests with a body in flight. */
  maxRequests: number;
  /** Their declared bytes together. */
  maxBytes: number;
  /** BODY_LIMIT_BYTES: what a chunked body counts. */
  bodyLimit: number;
}

export function installBodyBudget(app: FastifyInstance, budget: BodyBudget): void {
  let requests = 0;
  let bytes = 0;
  const release = (request: FastifyRequest) => {
    const held = holding.get(request);
    if (held === undefined) return;
    holding.delete(request);
    requests--;
    bytes -= held;
  };
  app.addHook('onRequest', async (request, reply) => {
    const size = declaredBytes(request, budget.bodyLimit);
    if (size === 0) return;
    if (requests >= budget.maxRequests) {
      metrics.rejected.inc({ reason: 'overloaded' });
      throw new PrmError(ErrorCode.OVERLOADED, `${requests} requests are in flight (the limit); retry shortly`, { retryAfterS: 1 });
    }
    if (requests > 0 && bytes + size > budget.maxBytes) {
      metrics.rejected.inc({ reason: 'overloaded' });
      throw new PrmError(ErrorCode.OVERLOADED, `request bodies of ${bytes} bytes are being served (the limit is ${budget.maxBytes}); retry shortly`, { retryAfterS: 1 });
    }
    requests++;
    bytes += size;
    holding.set(request, size);
    // 'close' ends every response: sent, failed, or cut by the client.
    reply.raw.once('close', () => release(request));
  });
}
