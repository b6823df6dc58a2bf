/**
 * parseWithLongStrings against JSON.parse itself: the same value for any JSON text, escapes cut at
 * every offset of a piece boundary included; the same refusals for invalid text; the event loop
 * given back while an 8 MiB string is unescaped.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PrmError } from '../../src/errors.js';
import { LONG_STRING_CHARS, PIECE_CHARS, parseWithLongStrings, skeletonOf } from '../../src/http/long-strings.js';
import { turnsDuring } from '../helpers/turns.js';

const parse = (text: string) => parseWithLongStrings(text, JSON.parse);

/** Strings of every kind of character JSON escapes or not, some long enough to be taken out. */
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.tuple(fc.string({ unit: 'binary', maxLength: 30 }), fc.integer({ min: LONG_STRING_CHARS - 5, max: LONG_STRING_CHARS + 700 }))
    .map(([s, n]) => (s + 'x"\\\n\u00e9\ud83d\ude00\u0001').repeat(Math.ceil(n / (s.length + 9))).slice(0, n)),
);
const anyJson = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, anyString, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 4 })),
})).value;

describe('parseWithLongStrings', () => {
  it('gives what JSON.parse gives, for any JSON value', async () => {
    await fc.assert(fc.asyncProperty(anyJson, async (value) => {
      const text = JSON.stringify(value);
      expect(await parse(text)).toEqual(JSON.parse(text));
    }), { numRuns: 300 });
  });

  it('cuts no escape in two: every escape at every offset of a piece boundary', async () => {
    const escapes = ['\\n', '\\"', '\\\\', '\\u00e9', '\\ud83d\\ude00', '\\\\\\"', '\\/'];
    for (const escape of escapes) {
      for (let k = 0; k <= 7; k++) {
        const text = `{"s":"${'a'.repeat(PIECE_CHARS - k)}${escape}${'b'.repeat(10)}${escape}"}`;
        expect(await parse(text), `${escape} at ${PIECE_CHARS - k}`).toEqual(JSON.parse(text));
      }
    }
  });

  it('refuses what JSON.parse refuses, and long member names', async () => {
    const long = 'a'.repeat(LONG_STRING_CHARS);
    for (const bad of [`["${long}\u0001"]`, `["${long}\\x"]`, `["${long}\\u12"]`, `["${long}"`, `["${long}" "b"]`, `["${long}\\`]) {
      expect(() => JSON.parse(bad)).toThrow(SyntaxError);
      await expect(parse(bad), bad.slice(-12)).rejects.toThrow(SyntaxError);
    }
    await expect(parse(`{"${long}":1}`)).rejects.toThrow(PrmError);
  });

  it('leaves a string that looks like a placeholder as it is', async () => {
    const { marker } = skeletonOf(`["${'a'.repeat(LONG_STRING_CHARS)}"]`);
    const text = JSON.stringify([`${marker}0`, 'a'.repeat(LONG_STRING_CHARS)]);
    expect(await parse(text)).toEqual(JSON.parse(text));
  });

  it('gives the event loop back while an 8 MiB string is unescaped', async () => {
    const text = JSON.stringify({ prompt: 'é\n'.repeat(4 * 1024 * 1024) });
    const { result, turns } = await turnsDuring(() => parse(text));
    expect(result).toEqual(JSON.parse(text));
    expect(turns).toBeGreaterThan(0);
  });
});
