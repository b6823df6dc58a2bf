/**
 * Lets keep-alive clients go when the server closes. Node's server.close() stops accepting and
 * closes the connections idle at that moment, then waits for the others; a keep-alive client whose
 * request was in flight keeps its connection open after the response, and the close would wait for
 * it until the client's own idle timeout (for ever, with some clients). So once closing, every
 * response says `Connection: close`, and connections that turn idle are closed as soon as they do.
 */
import type { FastifyInstance } from 'fastify';

export function installGracefulClose(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async () => {
    if (closing) app.server.closeIdleConnections();
  });
}
