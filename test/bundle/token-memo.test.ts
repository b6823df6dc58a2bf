/**
 * TokenMemo: hits return what the tokenizer returned for that text, the bound holds with least
 * recently used eviction, long texts are not kept, and shared arrays cannot be mutated.
 */
import { describe, expect, it } from 'vitest';
import { TokenMemo } from '../../src/bundle/token-memo.js';

function countingEncoder() {
  const calls: string[] = [];
  const encode = (text: string) => {
    calls.push(text);
    return [...text].map((c) => c.codePointAt(0)!);
  };
  return { calls, encode };
}

describe('TokenMemo', () => {
  it('encodes a text once and returns equal ids afterwards', () => {
    const { calls, encode } = countingEncoder();
    const memo = new TokenMemo(encode, 1000);
    expect(memo.ids('ab')).toEqual([97, 98]);
    expect(memo.ids('ab')).toEqual([97, 98]);
    expect(memo.ids('b')).toEqual([98]);
    expect(calls).toEqual(['ab', 'b']);
  });

  it('evicts the least recently used text beyond its size bound (text + ids)', () => {
    const { calls, encode } = countingEncoder();
    // a one-character text costs 2 bytes of text + 8 of its id: room for two
    const memo = new TokenMemo(encode, 20);
    memo.ids('a');
    memo.ids('b');
    memo.ids('a'); // a is now the most recent
    memo.ids('c'); // evicts b
    expect(memo.size).toBe(2);
    expect(memo.bytes).toBe(20);
    memo.ids('a');
    memo.ids('b');
    expect(calls).toEqual(['a', 'b', 'c', 'b']);
  });

  it('does not keep texts over the length bound, nor anything with a zero bound', () => {
    const long = countingEncoder();
    const memo = new TokenMemo(long.encode, 1000, 3);
    memo.ids('abcd');
    memo.ids('abcd');
    expect(long.calls).toEqual(['abcd', 'abcd']);
    const off = countingEncoder();
    const none = new TokenMemo(off.encode, 0);
    none.ids('a');
    none.ids('a');
    expect(off.calls).toEqual(['a', 'a']);
    expect(none.size).toBe(0);
  });

  it('makes room for a large text by evicting several small ones', () => {
    const { calls, encode } = countingEncoder();
    const memo = new TokenMemo(encode, 50);
    for (const t of ['a', 'b', 'c', 'd', 'e']) memo.ids(t); // 50 bytes
    memo.ids('wxyz'); // 8 + 32 bytes: a, b, c and d go
    expect(memo.bytes).toBe(50);
    memo.ids('e');
    memo.ids('a');
    expect(calls).toEqual(['a', 'b', 'c', 'd', 'e', 'wxyz', 'a']);
  });

  it('hands out frozen arrays', () => {
    const memo = new TokenMemo(countingEncoder().encode);
    const ids = memo.ids('xy') as number[];
    expect(() => ids.push(1)).toThrow(TypeError);
    expect(memo.ids('xy')).toEqual([120, 121]);
  });
});
