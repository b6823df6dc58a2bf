/**
 * float16 KV and scores: half-precision bits decode to the values IEEE 754 defines, and packing,
 * unpacking and linking a float16 KV move its bits unchanged and keep it float16 (half the bytes).
 */
import { describe, expect, it } from 'vitest';
import { halfToFloat, halvesToFloats } from '../../src/engine/float16.js';
import { flattenKv } from '../../src/engine/kv-chain.js';
import { composeKv, emptyKv, packRows, unpackKv } from '../../src/engine/pack-batch.js';
import { makeKv } from '../../src/engine/types.js';

describe('halfToFloat', () => {
  it.each([
    [0x0000, 0], [0x8000, -0], [0x3c00, 1], [0xc000, -2], [0x3555, 0.333251953125], [0x7bff, 65504],
    [0x0400, 2 ** -14], [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24], [0x7c00, Infinity], [0xfc00, -Infinity],
  ])('0x%s decodes exactly', (bits, want) => {
    expect(Object.is(halfToFloat(bits), want)).toBe(true);
  });

  it('NaN stays NaN, and an array decodes element-wise', () => {
    expect(halfToFloat(0x7e00)).toBeNaN();
    expect(Array.from(halvesToFloats(Uint16Array.of(0x3c00, 0xbc00, 0x4200)))).toEqual([1, -1, 3]);
  });
});

describe('float16 KV through packing', () => {
  const shape = { numLayers: 1, numHeads: 2, headDim: 2, vocabSize: 10, kvDtype: 'float16' as const };
  // A past of 3 positions, [heads=2, 3, 2] bit patterns that are not valid floats of any width.
  const keys = Uint16Array.from({ length: 12 }, (_, i) => 0x7c01 + i);
  const values = Uint16Array.from({ length: 12 }, (_, i) => 0x0100 + i);
  const past = makeKv(3, [keys], [values]);

  it('packs a float16 past into float16 inputs, bit for bit, and pads with zeros', () => {
    const p = packRows([{ tokens: [1], targets: [2], past }, { tokens: [1, 2], targets: [2, 3] }], shape);
    expect(p.pastKeys[0]).toBeInstanceOf(Uint16Array);
    // Row 0, head 1 holds keys 6..11; row 1 has no past (zeros).
    expect(Array.from(p.pastKeys[0]!.subarray(6, 12))).toEqual(Array.from(keys.subarray(6, 12)));
    expect(Array.from(p.pastKeys[0]!.subarray(12))).toEqual(new Array(12).fill(0));
    expect(emptyKv(1, 'float16').keys[0]).toBeInstanceOf(Uint16Array);
  });

  it('unpacks and links float16 KV as float16, at half the bytes of float32', () => {
    const present = Uint16Array.from({ length: 2 * 4 * 2 }, (_, i) => 0x4000 + i); // [1, 2, P=3 + S=1, 2]
    const kv = unpackKv([present], [present], { past: 3, seq: 1 }, shape, 0, { tokens: [1], targets: [2], past });
    expect(kv.keys[0]).toBeInstanceOf(Uint16Array);
    expect(kv.bytes).toBe(2 * 2 * 4 * 2 * 2);
    const fresh = Uint16Array.of(0x5000, 0x5001, 0x5002, 0x5003); // new_key_values [1, 2, 1, 2]
    const linked = composeKv([fresh], [fresh], { seq: 1 }, shape, 0, { tokens: [1], targets: [2], past });
    const flat = flattenKv(linked, 4, 2, 2);
    expect(flat.keys[0]).toBeInstanceOf(Uint16Array);
    expect(Array.from(flat.keys[0]!)).toEqual([...keys.subarray(0, 6), 0x5000, 0x5001, ...keys.subarray(6, 12), 0x5002, 0x5003]);
  });
});
