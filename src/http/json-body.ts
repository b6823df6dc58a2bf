/**
 * How request bodies are read: JSON in UTF-8, uncompressed — anything else is refused with its
 * own code instead of being guessed at:
 *   Content-Encoding other than identity → 415 (a gzip body is not silently read as text)
 *   a charset other than UTF-8           → 415 (UTF-16 is not decoded as UTF-8)
 *   bytes that are not UTF-8             → 400 INVALID_JSON (never replaced and scored)
 *   a "__proto__" or "constructor.prototype" key → 400 INVALID_REQUEST, named as such
 *   a shape no request needs (json-shape.ts: nesting, an array's length, the count of values)
 *                                         → 400 INVALID_REQUEST / 413 BODY_TOO_LARGE, before parsing
 * Parsing is secure-json-parse, the parser Fastify itself uses, told to refuse those keys.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import sjson from 'secure-json-parse';
import { ErrorCode, PrmError } from '../errors.js';
import { checkJsonShape, type JsonShapeLimits } from './json-shape.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function checkEncoding(request: FastifyRequest): void {
  const encoding = request.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    throw new PrmError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `Content-Encoding ${JSON.stringify(encoding)} is not accepted: send the body uncompressed`);
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1];
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
    throw new PrmError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `charset ${JSON.stringify(charset)} is not accepted: send UTF-8`);
  }
}

export function parseJsonBody(body: Buffer, limits?: JsonShapeLimits): unknown {
  if (body.length === 0) throw new PrmError(ErrorCode.INVALID_JSON, 'request body is empty; send a JSON object');
  if (limits !== undefined) checkJsonShape(body, limits);
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw new PrmError(ErrorCode.INVALID_JSON, 'request body is not valid UTF-8');
  }
  try {
    return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    const message = (err as Error).message;
    if (/forbidden prototype property/i.test(message)) {
      throw new PrmError(ErrorCode.INVALID_REQUEST, 'request body has a "__proto__" or "constructor.prototype" key, which is not accepted');
    }
    throw new PrmError(ErrorCode.INVALID_JSON, 'request body is not valid JSON');
  }
}

export function installJsonBody(app: FastifyInstance, limits: JsonShapeLimits): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      checkEncoding(request);
      done(null, parseJsonBody(body as Buffer, limits));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}
