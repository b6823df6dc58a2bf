import { describe, expect, it } from 'vitest';
import { selectBatch } from '../../src/batching/select-batch.js';

const q = (...lens: number[]) => lens.map((length) => ({ length }));

describe('selectBatch', () => {
  it('always includes the oldest row, even when it alone exceeds the budget', () => {
    const s = selectBatch(q(5000, 10, 10), 1000, 64);
    expect(s.indices).toEqual([0]);
  });

  it('groups rows of similar length around the oldest and respects the padded budget', () => {
    // oldest is 300; 290 and 310 are closest; 600 would double the padded width
    const s = selectBatch(q(300, 600, 290, 50, 310), 1000, 64);
    expect(new Set(s.indices)).toEqual(new Set([0, 2, 4]));
    expect(s.paddedTokens).toBe(3 * 310);
    expect(s.realTokens).toBe(300 + 290 + 310);
  });

  it('takes every row when the budget allows, and caps rows', () => {
    expect(selectBatch(q(1, 2, 3, 4), 1000, 64).indices.length).toBe(4);
    expect(selectBatch(q(1, 2, 3, 4), 1000, 2).indices.length).toBe(2);
  });

  it('keeps padding low on mixed lengths compared with first-come batching', () => {
    const lens = Array.from({ length: 64 }, (_, i) => (i % 2 === 0 ? 200 + (i % 7) : 600 - (i % 5)));
    const s = selectBatch(q(...lens), 8 * 600, 64);
    expect(1 - s.realTokens / s.paddedTokens).toBeLessThan(0.05);
  });
});
