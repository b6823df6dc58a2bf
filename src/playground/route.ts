/**
 * GET /playground: a single page for looking at step rewards in a browser. The page is static
 * (HTML, CSS and ES modules in ./static) and calls the public API from the browser like any other
 * client, so it needs no server-side logic and shows exactly what the API returns. Nothing is
 * loaded from elsewhere (the service may run offline), and a Content-Security-Policy says so.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The assets live beside this file in a checkout (src/playground/static). The compiled route
 * (dist/src/playground) has no copy, because tsc emits no non-TypeScript files, so it falls back
 * to the source folder relative to the package root.
 */
export function staticDir(): string | undefined {
  const candidates = ['./static/', '../../../src/playground/static/'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  return candidates.find((dir) => existsSync(`${dir}index.html`));
}

/** Everything the page may load: its own files and the API on the same origin. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const playgroundRoutes: FastifyPluginAsync = async (app) => {
  const dir = staticDir();
  // Read once at startup: a handful of small files, and no file-system access per request.
  const files = new Map<string, { body: Buffer; type: string }>();
  if (dir) {
    for (const name of readdirSync(dir)) {
      const type = TYPES[extname(name)];
      if (type) files.set(name, { body: readFileSync(dir + name), type });
    }
  }

  const send = (name: string) => async (_req: unknown, reply: import('fastify').FastifyReply) => {
    const file = files.get(name);
    if (!file) {
      return reply.code(404).type('text/plain; charset=utf-8').send('the playground files are not installed with this build');
    }
    return reply
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-cache')
      .type(file.type)
      .send(file.body);
  };

  const hide = { schema: { hide: true } };
  app.get('/playground', hide, send('index.html'));
  app.get('/playground/', hide, send('index.html'));
  for (const name of files.keys()) {
    if (name !== 'index.html') app.get(`/playground/${name}`, hide, send(name));
  }
};
