import { describe, expect, it } from 'vitest';
import { candidateWindow, selectBatch } from '../../src/batching/select-batch.js';

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

  it('caps the padded share of a batch: rows that would pad more are left for the next batch', () => {
    // Budget for everything, but 100 beside 200 pads 1/3 of a 2-row batch.
    const lens = [200, 190, 100, 195, 60];
    const capped = selectBatch(q(...lens), 10_000, 64, 0, 0.1);
    expect(new Set(capped.indices)).toEqual(new Set([0, 1, 3]));
    const waste = 1 - capped.realTokens / capped.paddedTokens;
    expect(waste).toBeLessThanOrEqual(0.1);
    // Without the cap the budget takes every row.
    expect(selectBatch(q(...lens), 10_000, 64).indices.length).toBe(5);
  });

  it('holds the cap on random queues, and never drops the oldest row', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let t = 0; t < 200; t++) {
      const lens = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => 1 + Math.floor(rand() * 600));
      const cap = [0, 0.05, 0.1, 0.3][t % 4]!;
      const s = selectBatch(q(...lens), 4096, 64, 0, cap);
      expect(s.indices).toContain(0);
      const real = s.indices.reduce((n, i) => n + lens[i]!, 0);
      const width = Math.max(...s.indices.map((i) => lens[i]!));
      expect(s.realTokens).toBe(real);
      expect(s.paddedTokens).toBe(width * s.indices.length);
      if (s.indices.length > 1) {
        expect(s.paddedTokens).toBeLessThanOrEqual(4096);
        expect((s.paddedTokens - real) / s.paddedTokens).toBeLessThanOrEqual(cap + 1e-12);
      }
    }
  });
});

describe('candidateWindow', () => {
  it('is the fewest head rows holding the given batches of tokens, or the whole queue', () => {
    const q = [30, 30, 30, 30, 30, 30].map((length) => ({ length }));
    expect(candidateWindow(q, 50, 2)).toBe(4);
    expect(candidateWindow(q, 45, 2)).toBe(3);
    expect(candidateWindow(q, 1000, 4)).toBe(6);
    expect(candidateWindow([], 10)).toBe(0);
  });
});
