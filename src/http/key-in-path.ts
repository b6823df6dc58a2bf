/**
 * The API key in the URL, for clients that can only be given a URL (OpenRLHF's
 * `--remote_rm_url` posts without headers): `/k/<key>/get_reward` is `/get_reward` with
 * `Authorization: Bearer <key>`. The prefix is cut before routing (Fastify's rewriteUrl), so
 * routes, the access classes of auth.ts, metrics labels and the logged URL never see the key.
 */
import type { IncomingMessage } from 'node:http';

const PREFIX = /^\/k\/([^/?#]+)(\/[^?#]*)?(.*)$/s;

/** The URL without the key prefix; the key moves into the Authorization header (if none came). */
export function keyInPath(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const m = PREFIX.exec(url);
  if (!m) return url;
  let key: string;
  try {
    key = decodeURIComponent(m[1]!);
  } catch {
    key = m[1]!; // not valid percent-encoding: compared as sent, so it fails as a wrong key
  }
  if (req.headers.authorization === undefined) req.headers.authorization = `Bearer ${key}`;
  return `${m[2] ?? '/'}${m[3] ?? ''}`;
}
