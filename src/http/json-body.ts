/**
 * How request bodies are read: JSON in UTF-8, uncompressed — anything else is refused with its
 * own code instead of being guessed at:
 *   Content-Encoding other than identity → 415 (a gzip body is not silently read as text)
 *   a charset other than UTF-8           → 415 (UTF-16 is not decoded as UTF-8)
 *   bytes that are not UTF-8             → 400 INVALID_JSON (never replaced and scored)
 *   a "__proto__" or "constructor.prototype" key → 400 INVALID_REQUEST, named as such
 *   a shape no request needs (json-shape.ts: nesting, an array's length, the count of values)
 *                                         → 400 INVALID_REQUEST / 413 BODY_TOO_LARGE, before parsing
 * Parsing is secure-json-parse, the parser Fastify itself uses, told to refuse those keys; long
 * strings are parsed apart from the rest, in slices (long-strings.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import sjson from 'secure-json-parse';
import { ErrorCode, PrmError } from '../errors.js';
import { checkJsonShape, type JsonShapeLimits } from './json-shape.js';
import { parseWithLongStrings } from './long-strings.js';
import { nextTurn } from '../util/time-slices.js';

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

/** Bodies up to this size are decoded in one call; larger ones a slice at a time. */
const DECODE_SLICE_BYTES = 1024 * 1024;

/**
 * The body as text. Decoding 8 MiB of non-ASCII UTF-8 takes ~30 ms, so a large body is decoded a
 * megabyte at a time (the decoder carries a character split between slices) with the event loop
 * given back between slices; JSON.parse then reads the joined text.
 */
async function decodeUtf8(body: Buffer): Promise<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    if (body.length <= DECODE_SLICE_BYTES) return decoder.decode(body);
    let text = '';
    for (let at = 0; at < body.length; at += DECODE_SLICE_BYTES) {
      if (at > 0) await nextTurn();
      text += decoder.decode(body.subarray(at, at + DECODE_SLICE_BYTES), { stream: true });
    }
    return text + decoder.decode();
  } catch {
    throw new PrmError(ErrorCode.INVALID_JSON, 'request body is not valid UTF-8');
  }
}

/**
 * Bodies this large take a turn of the event loop for each stage of their parsing (the shape
 * check, decoding, the skeleton scan, the parse: ~5–15 ms each for a body of 16 384 short
 * strings), in order with the loops of other requests (time-slices.ts), instead of all stages at
 * once in the callback that receives the body's end: bodies that end together are then parsed a
 * stage per turn, not one after another in one turn.
 */
const TURN_BYTES = 64 * 1024;

export async function parseJsonBody(body: Buffer, limits?: JsonShapeLimits): Promise<unknown> {
  if (body.length === 0) throw new PrmError(ErrorCode.INVALID_JSON, 'request body is empty; send a JSON object');
  const stage = body.length >= TURN_BYTES ? nextTurn : async () => {};
  await stage();
  if (limits !== undefined) checkJsonShape(body, limits);
  await stage();
  const text = await decodeUtf8(body);
  try {
    return await parseWithLongStrings(text, (skeleton) => sjson.parse(skeleton, undefined, { protoAction: 'error', constructorAction: 'error' }), stage);
  } catch (err) {
    if (err instanceof PrmError) throw err;
    const message = (err as Error).message;
    if (/forbidden prototype property/i.test(message)) {
      throw new PrmError(ErrorCode.INVALID_REQUEST, 'request body has a "__proto__" or "constructor.prototype" key, which is not accepted');
    }
    throw new PrmError(ErrorCode.INVALID_JSON, 'request body is not valid JSON');
  }
}

export function installJsonBody(app: FastifyInstance, limits: JsonShapeLimits): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, async (request: FastifyRequest, body: Buffer) => {
    checkEncoding(request);
    return parseJsonBody(body, limits);
  });
}
