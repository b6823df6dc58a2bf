/** The padded batch layout of ARCHITECTURE.md §2, checked cell by cell on a small example. */
import { describe, expect, it } from 'vitest';
import { depthOf, flattenKv, MAX_DEPTH } from '../../src/engine/kv-chain.js';
import { composeKv, packRows, unpackKv } from '../../src/engine/pack-batch.js';
import { makeKv, type KvState } from '../../src/engine/types.js';

const shape = { numLayers: 1, numHeads: 2, headDim: 1, vocabSize: 10 };

/** A past of `len` positions whose entries encode (head, position) as 10·h + j + offset. */
function past(len: number, offset: number): KvState {
  const a = new Float32Array(2 * len);
  for (let h = 0; h < 2; h++) for (let j = 0; j < len; j++) a[h * len + j] = 10 * h + j + offset;
  return makeKv(len, [a], [a.map((x) => -x)]);
}

describe('packRows', () => {
  it('right-pads tokens, left-aligns pasts, masks padding and numbers positions after each past', () => {
    const p = packRows(
      [
        { tokens: [1, 2, 3], targets: [2, 3, -1], past: past(1, 100) },
        { tokens: [4], targets: [5], past: past(2, 200) },
        { tokens: [6, 7], targets: [7, 8] },
      ],
      shape,
    );
    expect([p.batch, p.seq, p.past, p.realTokens]).toEqual([3, 3, 2, 6]);
    expect(Array.from(p.inputIds, Number)).toEqual([1, 2, 3, 4, 0, 0, 6, 7, 0]);
    expect(Array.from(p.targetIds, Number)).toEqual([2, 3, 0, 5, 0, 0, 7, 8, 0]);
    expect(Array.from(p.positionIds, Number)).toEqual([1, 2, 3, 2, 0, 0, 0, 1, 0]);
    // [past 0, past 1, new 0, new 1, new 2] per row
    expect(Array.from(p.attentionMask, Number)).toEqual([1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0]);
    // [B=3, H=2, P=2, D=1]: row 0 has one past position, row 2 none.
    expect(Array.from(p.pastKeys[0])).toEqual([100, 0, 110, 0, 200, 201, 210, 211, 0, 0, 0, 0]);
    expect(Array.from(p.pastValues[0])).toEqual([-100, 0, -110, 0, -200, -201, -210, -211, 0, 0, 0, 0]);
  });

  it('packs only the first pastLength positions of a longer past', () => {
    const p = packRows(
      [
        { tokens: [1], targets: [2], past: past(3, 100), pastLength: 1 },
        { tokens: [4], targets: [5], past: past(3, 200), pastLength: 2 },
      ],
      shape,
    );
    expect(p.past).toBe(2);
    expect(Array.from(p.positionIds, Number)).toEqual([1, 2]);
    expect(Array.from(p.attentionMask, Number)).toEqual([1, 0, 1, 1, 1, 1]);
    // Row 0 keeps position 0 of each head (100, 110), row 1 positions 0–1 (200, 201 | 210, 211).
    expect(Array.from(p.pastKeys[0])).toEqual([100, 0, 110, 0, 200, 201, 210, 211]);
    expect(() => packRows([{ tokens: [1], targets: [2], past: past(3, 0), pastLength: 4 }], shape)).toThrow(/pastLength 4/);
  });

  it('gives past length 0 dims [B, H, 0, D] when no row has a past', () => {
    const p = packRows([{ tokens: [1], targets: [2] }], shape);
    expect(p.past).toBe(0);
    expect(p.pastKeys[0].length).toBe(0);
  });

  it('rejects rows whose targets or past do not fit', () => {
    expect(() => packRows([{ tokens: [1, 2], targets: [2] }], shape)).toThrow(/targets/);
    expect(() => packRows([{ tokens: [1], targets: [2], past: makeKv(2, [new Float32Array(3)], [new Float32Array(3)]) }], shape)).toThrow(/wrong size/);
    expect(() => packRows([{ tokens: [1], targets: [2], past: { length: 1, bytes: 8 } }], shape)).toThrow(/another model/);
    expect(() => packRows([{ tokens: [1.5], targets: [2] }], shape)).toThrow(/outside the model vocabulary/);
  });
});

describe('unpackKv', () => {
  it('copies exactly the real past and new positions of a row out of present = concat(past, new)', () => {
    const rows = [
      { tokens: [1, 2], targets: [-1, -1], past: past(1, 100) },
      { tokens: [3], targets: [-1], past: past(2, 200) },
    ];
    const p = packRows(rows, shape);
    // present [B=2, H=2, T=P+S=4, D=1]: the padded past as packed, then 50+10h+s+100b for new token s.
    const T = 4;
    const present = new Float32Array(2 * 2 * T);
    for (let b = 0; b < 2; b++) for (let h = 0; h < 2; h++) {
      for (let j = 0; j < 2; j++) present[(b * 2 + h) * T + j] = p.pastKeys[0][(b * 2 + h) * 2 + j];
      for (let s = 0; s < 2; s++) present[(b * 2 + h) * T + 2 + s] = 50 + 10 * h + s + 100 * b;
    }
    const kv0 = unpackKv([present], [present], p, shape, 0, rows[0]);
    expect(kv0.length).toBe(3);
    expect(Array.from(kv0.keys[0])).toEqual([100, 50, 51, 110, 60, 61]);
    const kv1 = unpackKv([present], [present], p, shape, 1, rows[1]);
    expect(kv1.length).toBe(3);
    expect(Array.from(kv1.keys[0])).toEqual([200, 201, 150, 210, 211, 160]);
    // Only the first positions: past first, then new tokens.
    expect(Array.from(unpackKv([present], [present], p, shape, 0, rows[0], 2).keys[0])).toEqual([100, 50, 110, 60]);
    expect(Array.from(unpackKv([present], [present], p, shape, 1, rows[1], 1).values[0])).toEqual([200, 210]);
    expect(unpackKv([present], [present], p, shape, 1, rows[1], 0).length).toBe(0);
    expect(() => unpackKv([present], [present], p, shape, 1, rows[1], 4)).toThrow(/cannot unpack 4/);
  });
});

describe('composeKv', () => {
  it('links a row\'s own past (first pastLength positions) to its new tokens from new_key_values', () => {
    const own = past(3, 100);
    const rows = [
      { tokens: [1, 2], targets: [-1, -1], past: own, pastLength: 2 },
      { tokens: [3], targets: [-1] },
    ];
    const p = packRows(rows, shape);
    // new_key_values [B=2, H=2, S=2, D=1]: 50 + 10h + s + 100b for new token s (row 1's s=1 is padding).
    const fresh = new Float32Array(2 * 2 * 2);
    for (let b = 0; b < 2; b++) for (let h = 0; h < 2; h++) for (let s = 0; s < 2; s++) fresh[(b * 2 + h) * 2 + s] = 50 + 10 * h + s + 100 * b;
    const kv0 = composeKv([fresh], [fresh.map((x) => -x)], p, shape, 0, rows[0]);
    expect(kv0.length).toBe(4);
    // The past is not copied: a link to it, and only the two new positions held.
    expect(kv0.parent).toEqual({ kv: own, length: 2 });
    expect(Array.from(kv0.keys[0])).toEqual([50, 51, 60, 61]);
    // Read across the link: head 0: past 100, 101 (not 102: pastLength 2), new 50, 51; head 1: 110, 111, 60, 61
    expect(Array.from(flattenKv(kv0, 4, 2, 1).keys[0])).toEqual([100, 101, 50, 51, 110, 111, 60, 61]);
    expect(Array.from(flattenKv(kv0, 4, 2, 1).values[0])).toEqual([-100, -101, -50, -51, -110, -111, -60, -61]);
    // Its own two positions plus all of the past it keeps alive (its third position too).
    expect(kv0.bytes).toBe(own.bytes + 2 * 4 * 4);
    const kv1 = composeKv([fresh], [fresh], p, shape, 1, rows[1]);
    expect(kv1.parent).toBeUndefined();
    expect(Array.from(kv1.keys[0])).toEqual([150, 160]);
    // A prefix inside the past is a compact copy; one reaching into the new tokens is linked.
    const inside = composeKv([fresh], [fresh], p, shape, 0, rows[0], 1);
    expect([inside.parent, Array.from(inside.keys[0])]).toEqual([undefined, [100, 110]]);
    expect(Array.from(flattenKv(composeKv([fresh], [fresh], p, shape, 0, rows[0], 3), 3, 2, 1).keys[0])).toEqual([100, 101, 50, 110, 111, 60]);
    expect(() => composeKv([fresh], [fresh], p, shape, 0, rows[0], 5)).toThrow(/cannot unpack 5/);
  });

  it('packs a linked past exactly as its flat copy, and copies links deeper than MAX_DEPTH flat', () => {
    let kv = past(2, 100);
    const fresh = new Float32Array(2 * 1 * 1);
    for (let round = 0; round < MAX_DEPTH + 3; round++) {
      fresh[0] = 1000 + round;
      fresh[1] = 2000 + round;
      const row = { tokens: [1], targets: [-1], past: kv };
      kv = composeKv([fresh], [fresh], packRows([row], shape), shape, 0, row);
      expect(depthOf(kv)).toBeLessThanOrEqual(MAX_DEPTH);
      const linked = packRows([{ tokens: [2], targets: [-1], past: kv }, { tokens: [3], targets: [-1], past: past(1, 7) }], shape);
      const flat = packRows([{ tokens: [2], targets: [-1], past: flattenKv(kv, kv.length, 2, 1) }, { tokens: [3], targets: [-1], past: past(1, 7) }], shape);
      expect(Array.from(linked.pastKeys[0])).toEqual(Array.from(flat.pastKeys[0]));
    }
    expect(Array.from(flattenKv(kv, kv.length, 2, 1).keys[0]).slice(0, 4)).toEqual([100, 101, 1000, 1001]);
  });
});
