/**
 * Request ids in the log. A client's `x-request-id` is kept when it is a short plain token (1–128
 * of letters, digits and `._:-`), so it can be followed into our logs; anything else — huge
 * values, JSON, control characters, or the `srv-` prefix the server's own ids carry — is replaced
 * by a server id, so a client can neither bloat nor forge log lines.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const CLIENT_ID = /^(?!srv-)[A-Za-z0-9._:-]{1,128}$/;

export function requestIdOf(req: Pick<IncomingMessage, 'headers'>): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && CLIENT_ID.test(given) ? given : `srv-${randomUUID()}`;
}
