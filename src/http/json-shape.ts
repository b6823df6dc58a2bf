/**
 * A look at a JSON body's bytes before it is parsed: how deep it nests, its longest array and how
 * many values and strings it holds. JSON.parse of 8 MiB takes 50–250 ms of the event loop when the body is
 * millions of tiny values, and seconds when it is millions of nested arrays; no request of this
 * service needs either, and this scan (one pass over the bytes, strings skipped by indexOf) tells
 * in a few milliseconds, so such a body is refused before it is parsed. The scan does not check
 * that the body is JSON: JSON.parse does that afterwards.
 */
import { ErrorCode, PrmError } from '../errors.js';

export interface JsonShapeLimits {
  /** Arrays and objects inside one another. */
  maxDepth: number;
  /** Elements of any one array. */
  maxArrayLength: number;
  /** Values in the whole body: array elements and object members, counted by their commas. */
  maxValues: number;
  /** Strings in the whole body, keys included. */
  maxStrings: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/** The index of the quote that closes the string opened just before `from`, or -1. */
function stringEnd(bytes: Uint8Array, from: number): number {
  for (let at = from; ; at++) {
    at = bytes.indexOf(QUOTE, at);
    if (at < 0) return -1;
    let slashes = 0;
    while (bytes[at - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return at;
  }
}

/** Throws BODY_TOO_LARGE (too many values) or INVALID_REQUEST (too deep) past the limits. */
export function checkJsonShape(bytes: Uint8Array, limits: JsonShapeLimits): void {
  // Per open container: its element count so far, negative for an object (members are not limited).
  const counts = new Int32Array(limits.maxDepth + 1);
  let depth = 0;
  let values = 1;
  let strings = 0;
  for (let at = 0; at < bytes.length; at++) {
    const b = bytes[at]!;
    if (b === QUOTE) {
      if (++strings > limits.maxStrings) throw tooMany(`more than ${limits.maxStrings} strings`);
      const end = stringEnd(bytes, at + 1);
      if (end < 0) return;
      at = end;
    } else if (b === COMMA) {
      if (++values > limits.maxValues) throw tooMany(`more than ${limits.maxValues} values`);
      if (depth > 0 && counts[depth]! >= 0 && ++counts[depth]! >= limits.maxArrayLength) {
        throw tooMany(`an array of more than ${limits.maxArrayLength} elements`);
      }
    } else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++depth > limits.maxDepth) {
        throw new PrmError(ErrorCode.INVALID_REQUEST, `request body nests arrays and objects more than ${limits.maxDepth} deep; no request needs that`);
      }
      counts[depth] = b === OPEN_ARRAY ? 0 : -1;
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) {
      depth = Math.max(0, depth - 1);
    }
  }
}

function tooMany(what: string): PrmError {
  return new PrmError(ErrorCode.BODY_TOO_LARGE, `request body has ${what}; no request within this server's limits needs that many`);
}
