import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HashChain } from '../../src/cache/segment-keys.js';

const hashesOf = (fingerprint: string, segments: number[][]): Buffer[] => {
  const chain = HashChain.of(fingerprint, segments);
  return Array.from({ length: chain.length }, (_, k) => Buffer.from(chain.key(k), 'base64url'));
};

describe('segment hash chain', () => {
  const segs = [[5, 6, 7], [1, 2], [3], [4, 4, 4]];

  it('shares every key of a prefix with the trace that extends it', () => {
    const full = hashesOf('sha256:abc', segs);
    const prefix = hashesOf('sha256:abc', segs.slice(0, 3));
    expect(prefix.map((h) => h.toString('hex'))).toEqual(full.slice(0, 3).map((h) => h.toString('hex')));
  });

  it('changes every later key when an earlier segment or the model changes', () => {
    const a = hashesOf('sha256:abc', segs);
    const b = hashesOf('sha256:abc', [segs[0], [1, 9], ...segs.slice(2)]);
    expect(a[0].equals(b[0])).toBe(true);
    for (let k = 1; k < a.length; k++) expect(a[k].equals(b[k])).toBe(false);
    const c = hashesOf('sha256:other', segs);
    for (let k = 0; k < a.length; k++) expect(a[k].equals(c[k])).toBe(false);
  });

  it('keeps segment boundaries: [1,2]+[3] differs from [1]+[2,3]', () => {
    const a = hashesOf('f', [[0], [1, 2], [3]]);
    const b = hashesOf('f', [[0], [1], [2, 3]]);
    expect(a[2].equals(b[2])).toBe(false);
  });

  it('is the documented sha256 recipe', () => {
    const ids = Buffer.alloc(8);
    ids.writeInt32LE(5, 0);
    ids.writeInt32LE(6, 4);
    const h0 = createHash('sha256').update('prm/1\0').update('fp').update('\0').update(ids).digest();
    expect(hashesOf('fp', [[5, 6]])[0].equals(h0)).toBe(true);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(1, 0);
    const step = Buffer.alloc(4);
    step.writeInt32LE(-3, 0);
    const h1 = createHash('sha256').update(h0).update(len).update(step).digest();
    expect(hashesOf('fp', [[5, 6], [-3]])[1].equals(h1)).toBe(true);
  });

  it('keys each segment after the prompt by its root\'s tag and its own hash', () => {
    const hashes = hashesOf('fp', segs);
    const chain = HashChain.of('fp', segs);
    const tag = hashes[0].subarray(0, 12).toString('base64url');
    const expected = hashes.slice(1).map((h) => `prm:lp:{${tag}}:${h.toString('base64url')}`);
    expect(chain.logprobKeys()).toEqual(expected);
    expect(expected.map((_, j) => chain.logprobKey(j + 1))).toEqual(expected);
  });

  it('puts all keys of one prompt in one cluster hash tag', () => {
    const tags = HashChain.of('fp', segs).logprobKeys().map((key) => /\{([^}]+)\}/.exec(key)![1]);
    expect(new Set(tags).size).toBe(1);
  });
});
