/**
 * Shutting down without dropping what clients already sent.
 *
 * `drain(ms)` comes first (src/server.ts on SIGTERM): readiness answers 503 so a load balancer
 * stops sending, every response says `Connection: close`, and requests keep being served for `ms`
 * — requests whose bytes were already on their way when the signal came (a closing server would
 * take their connections for idle and reset them) are answered instead. Then Fastify's close:
 * Node's server.close() stops accepting and closes the connections idle at that moment, then waits
 * for the others; a keep-alive client whose request was in flight keeps its connection open after
 * the response, and the close would wait for it until the client's own idle timeout (for ever,
 * with some clients). So once closing, connections that turn idle are closed as soon as they do.
 * Requests that still arrive on an open connection while closing are served, not refused with
 * Fastify's own 503 body (the app sets return503OnClosing: false).
 */
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyInstance {
    /** Stops new traffic from being sent here and keeps serving for `ms` (see module comment). */
    drain(ms: number): Promise<void>;
    /** True from drain() (or close) on: readiness reports the service as shutting down. */
    isDraining(): boolean;
  }
}

/** `onDrain`: what else must happen when draining starts (connections held unread are read). */
export function installGracefulClose(app: FastifyInstance, onDrain: () => void = () => undefined): void {
  let draining = false;
  let closing = false;
  app.decorate('drain', async (ms: number) => {
    draining = true;
    onDrain();
    await new Promise((resolve) => setTimeout(resolve, ms));
  });
  app.addHook('preClose', async () => {
    draining = closing = true;
  });
  app.decorate('isDraining', () => draining);
  app.addHook('onSend', async (_request, reply, payload) => {
    if (draining) reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async () => {
    if (closing) app.server.closeIdleConnections();
  });
}
