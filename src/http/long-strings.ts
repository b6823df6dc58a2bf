/**
 * JSON with long strings, parsed in slices. One JSON.parse of an 8 MiB body holds the event loop
 * for tens of milliseconds, and nearly all of that time is its long strings (a prompt, a
 * response). So the long string literals are taken out of the text first: what is left (the
 * skeleton, with a placeholder for each) is parsed in one call, and each long string is unescaped
 * a slice at a time by JSON.parse itself, the event loop given back between slices, and put back
 * where its placeholder is. The result is the value JSON.parse gives the whole text; the text is
 * valid JSON exactly when the skeleton and every piece are.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode, PrmError } from '../errors.js';
import { TimeSlices } from '../util/time-slices.js';

/** String literals this long (characters between the quotes) are taken out of the skeleton. */
export const LONG_STRING_CHARS = 4096;
/** Characters of a long string unescaped in one JSON.parse call. */
export const PIECE_CHARS = 256 * 1024;

interface Skeleton {
  text: string;
  /** The long literals' contents, still escaped, in order. */
  literals: string[];
  /** What each placeholder parses to: this, then the literal's index ('' when there is none). */
  marker: string;
}

/** The index of the quote closing the string literal that starts after `from`, or -1. */
function closingQuote(text: string, from: number): number {
  for (let at = from; ; at++) {
    at = text.indexOf('"', at);
    if (at < 0) return -1;
    let slashes = 0;
    while (text.charCodeAt(at - 1 - slashes) === 0x5c) slashes++;
    if (slashes % 2 === 0) return at;
  }
}

/** `text` with each string literal of LONG_STRING_CHARS or more replaced by a placeholder. */
export function skeletonOf(text: string): Skeleton {
  // A marker no client can know, so no string of the body can pass for a placeholder; made once a
  // long literal is found (most bodies have none).
  let marker = '';
  let escapedMarker = '';
  const parts: string[] = [];
  const literals: string[] = [];
  let copiedTo = 0;
  for (let at = text.indexOf('"'); at >= 0; at = text.indexOf('"', at)) {
    const close = closingQuote(text, at + 1);
    if (close < 0) break;
    if (close - at - 1 >= LONG_STRING_CHARS) {
      if (marker === '') {
        marker = `\u0000${randomBytes(9).toString('base64')}:`;
        escapedMarker = JSON.stringify(marker).slice(1, -1);
      }
      parts.push(text.slice(copiedTo, at), `"${escapedMarker}${literals.length}"`);
      literals.push(text.slice(at + 1, close));
      copiedTo = close + 1;
    }
    at = close + 1;
  }
  if (literals.length === 0) return { text, literals, marker };
  parts.push(text.slice(copiedTo));
  return { text: parts.join(''), literals, marker };
}

/** Where a piece of an escaped literal may end: not inside an escape sequence. */
function pieceEnd(literal: string, from: number): number {
  let end = Math.min(literal.length, from + PIECE_CHARS);
  if (end === literal.length) return end;
  // The longest escape is six characters (\uXXXX): look for a backslash that starts one there.
  const backslash = literal.lastIndexOf('\\', end - 1);
  if (backslash >= 0 && backslash > end - 6) {
    let run = 1;
    while (literal.charCodeAt(backslash - run) === 0x5c) run++;
    // An odd run ends in a backslash that opens an escape; an even one is all "\\" pairs.
    if (run % 2 === 1) {
      const escapeLength = literal[backslash + 1] === 'u' ? 6 : 2;
      if (backslash + escapeLength > end) end = backslash;
    }
  }
  return end;
}

/** One long literal unescaped, in slices. Lone surrogates from a split pair join up again. */
async function unescape(literal: string, slices: TimeSlices): Promise<string> {
  let value = '';
  for (let at = 0; at < literal.length;) {
    await slices.pass();
    const end = pieceEnd(literal, at);
    value += JSON.parse(`"${literal.slice(at, end)}"`) as string;
    at = end;
  }
  return value;
}

/** Puts the parsed long strings where their placeholders are. */
function fillIn(value: unknown, marker: string, strings: string[]): unknown {
  if (typeof value === 'string') return value.startsWith(marker) ? strings[Number(value.slice(marker.length))] : value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = fillIn(value[i], marker, strings);
    return value;
  }
  if (value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    for (const key of Object.keys(object)) {
      if (key.startsWith(marker)) {
        throw new PrmError(ErrorCode.INVALID_REQUEST, `request body has a member name of ${strings[Number(key.slice(marker.length))]!.length} characters; no request has such names`);
      }
      object[key] = fillIn(object[key], marker, strings);
    }
  }
  return value;
}

/**
 * Parses `text` with `parse` (which may refuse some keys), its long strings in slices; `between`
 * runs between the skeleton's scan and its parse (json-body.ts: a turn of the event loop).
 * Throws SyntaxError where JSON.parse would.
 */
export async function parseWithLongStrings(text: string, parse: (text: string) => unknown, between: () => Promise<void> = async () => {}): Promise<unknown> {
  // Too short to hold a long literal and its quotes: no scan.
  if (text.length < LONG_STRING_CHARS + 2) return parse(text);
  const skeleton = skeletonOf(text);
  await between();
  const value = parse(skeleton.text);
  if (skeleton.literals.length === 0) return value;
  const slices = new TimeSlices();
  const strings: string[] = [];
  for (const literal of skeleton.literals) strings.push(await unescape(literal, slices));
  return fillIn(value, skeleton.marker, strings);
}
