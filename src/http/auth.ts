/**
 * API keys. Every route belongs to one access class, decided here from its path so that no route
 * can be added without one:
 *
 *   public     /docs, /playground (the page only: its API calls are inference calls)
 *   health     /health/*   public unless PUBLIC_HEALTH=false
 *   metrics    /metrics    public unless PUBLIC_METRICS=false
 *   admin      /admin/*    an ADMIN_API_KEYS key, always (the routes exist only when one is set)
 *   inference  everything else, unknown paths included: a key when API_KEYS is set
 *
 * Keys arrive as `Authorization: Bearer <key>` (a key in the path becomes that header,
 * key-in-path.ts). They are compared as SHA-256 digests with
 * crypto.timingSafeEqual against every configured key, without stopping at the first match, so
 * neither the length nor the content of a key, nor which key matched, shows in the response time.
 *
 * The check runs before the body is read (installAuth): a client without a key cannot make the
 * server parse or buffer a body.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { ErrorCode, PrmError } from '../errors.js';
import { sendError } from './error-handler.js';

export type AccessClass = 'public' | 'health' | 'metrics' | 'admin' | 'inference';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Who sent the request: `key:<first 16 hex of the key's SHA-256>` when a valid key came with
     * it, else undefined. Used as the rate-limit key; the key itself is never stored or logged.
     */
    principal?: string;
    /** Whether that key is an admin key. */
    admin?: boolean;
  }
}

/** The access class of a route pattern (`request.routeOptions.url`; undefined = no route). */
export function accessClassOf(routeUrl: string | undefined): AccessClass {
  if (routeUrl === undefined) return 'inference';
  if (routeUrl === '/metrics') return 'metrics';
  if (routeUrl.startsWith('/health/')) return 'health';
  if (routeUrl === '/admin' || routeUrl.startsWith('/admin/')) return 'admin';
  if (routeUrl === '/docs' || routeUrl.startsWith('/docs/')) return 'public';
  if (routeUrl === '/playground' || routeUrl.startsWith('/playground/')) return 'public';
  return 'inference';
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

interface KnownKey {
  digest: Buffer;
  admin: boolean;
}

export class KeyRing {
  private readonly keys: KnownKey[];

  constructor(apiKeys: readonly string[], adminKeys: readonly string[]) {
    const admin = new Set(adminKeys);
    const all = new Set([...apiKeys, ...adminKeys]);
    this.keys = [...all].map((k) => ({ digest: digest(k), admin: admin.has(k) }));
  }

  get size(): number {
    return this.keys.length;
  }

  /** The matching key, or null; looks at every key whatever the outcome (see module comment). */
  find(presented: string): { admin: boolean; id: string } | null {
    const d = digest(presented);
    let found: KnownKey | null = null;
    for (const k of this.keys) {
      const same = timingSafeEqual(d, k.digest);
      if (same && found === null) found = k;
    }
    return found === null ? null : { admin: found.admin, id: `key:${d.toString('hex', 0, 8)}` };
  }
}

/** The token of an `Authorization: Bearer <token>` header; undefined when absent or malformed. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m?.[1];
}

type AuthConfig = Pick<Config, 'apiKeys' | 'adminApiKeys' | 'publicHealth' | 'publicMetrics'>;

function unauthorized(reply: FastifyReply, message: string): FastifyReply {
  reply.header('www-authenticate', 'Bearer');
  return sendError(reply, new PrmError(ErrorCode.UNAUTHORIZED, message));
}

/**
 * Installs the key check in two hooks: onRequest identifies the caller (`principal`, for a valid
 * key); preParsing — after every onRequest hook, the rate limit's included, and still before the
 * body is read — refuses requests without a needed key. The rate limit so sees every attempt, and
 * wrong keys count against their address's budget instead of being tried without limit.
 */
export function installAuth(app: FastifyInstance, config: AuthConfig): () => void {
  const ring = new KeyRing(config.apiKeys, config.adminApiKeys);
  if (ring.size === 0) return () => {};

  const needsKey: Record<AccessClass, boolean> = {
    public: false,
    health: !config.publicHealth,
    metrics: !config.publicMetrics,
    admin: true,
    inference: config.apiKeys.length > 0,
  };

  app.addHook('onRequest', async (request: FastifyRequest) => {
    const token = bearerToken(request.headers.authorization);
    const match = token === undefined ? null : ring.find(token);
    if (match) {
      request.principal = match.id;
      request.admin = match.admin;
    }
  });
  return () => {
    // Returns the body stream unchanged when the request may go on (preParsing's contract).
    app.addHook('preParsing', async (request: FastifyRequest, reply: FastifyReply, payload) => {
      const access = accessClassOf(request.routeOptions.url);
      if (!needsKey[access]) return payload;
      if (bearerToken(request.headers.authorization) === undefined) {
        return unauthorized(reply, 'this endpoint needs an API key: send `Authorization: Bearer <key>`');
      }
      if (request.principal === undefined) return unauthorized(reply, 'the API key is not valid');
      if (access === 'admin' && !request.admin) {
        return sendError(reply, new PrmError(ErrorCode.FORBIDDEN, 'this endpoint needs an admin key (ADMIN_API_KEYS)'));
      }
      return payload;
    });
  };
}
