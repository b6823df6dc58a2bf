/** Token ends from token strings, for byte-level BPE, SentencePiece-style and verbatim tokens. */
import { describe, expect, it } from 'vitest';
import { offsetSchemeOf, tokenEnds, verbatimEnds } from '../../src/bundle/token-offsets.js';

describe('tokenEnds', () => {
  it('byte-level: one character of a token string per byte, multi-byte characters ending after their last byte', () => {
    // "é" is two bytes, split over two byte-level tokens; "€" three bytes in one token.
    expect(tokenEnds('aé€', ['a', 'Ã', '©', 'âĤ¬'], 'byte-level')).toEqual([1, 2, 2, 3]);
    expect(tokenEnds('Hi there', ['Hi', 'Ġthere'], 'byte-level')).toEqual([2, 8]);
  });

  it('metaspace: "▁" is a space, byte fallback is one byte, the prepended "▁" no character', () => {
    expect(tokenEnds('Step 1\n', ['▁Step', '▁', '1', '<0x0A>'], 'metaspace')).toEqual([4, 5, 6, 7]);
    expect(tokenEnds('a b', ['a', '▁b'], 'metaspace')).toEqual([1, 3]);
  });

  it('gives none when the tokens do not account for the text', () => {
    expect(tokenEnds('abc', ['ab'], 'byte-level')).toBeNull();
    expect(tokenEnds('abc', ['▁ab', 'cd'], 'metaspace')).toBeNull();
  });

  it('tells the family from the decoder', () => {
    expect(offsetSchemeOf({ decoder: { type: 'ByteLevel' } })).toBe('byte-level');
    expect(offsetSchemeOf({ decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' } }, { type: 'ByteFallback' }] } })).toBe('metaspace');
    expect(offsetSchemeOf({ decoder: { type: 'Fuse' } })).toBeNull();
    expect(offsetSchemeOf({ decoder: null })).toBeNull();
  });

  it('verbatim: token strings that are the text\'s own characters end at their running length', () => {
    expect(verbatimEnds('12+7=19\n', ['1', '2', '+', '7', '=', '19', '\n'])).toEqual([1, 2, 3, 4, 5, 7, 8]);
    expect(verbatimEnds('a b', ['a', 'Ġb'])).toBeNull();
    expect(verbatimEnds('abc', ['a', 'b'])).toBeNull();
  });
});
