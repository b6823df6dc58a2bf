/** Stable log-softmax at one position. */
import { describe, expect, it } from 'vitest';
import { logSoftmaxAt } from '../../src/engine/log-softmax.js';

describe('logSoftmaxAt', () => {
  it('matches the definition on small logits, at an offset', () => {
    const logits = new Float32Array([9, 9, 1, 2, 3]);
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    expect(logSoftmaxAt(logits, 2, 3, 0)).toBeCloseTo(1 - lse, 12);
    expect(logSoftmaxAt(logits, 2, 3, 2)).toBeCloseTo(3 - lse, 12);
  });

  it('stays finite for logits far outside exp range', () => {
    expect(logSoftmaxAt(new Float32Array([1000, 1000]), 0, 2, 1)).toBeCloseTo(Math.log(0.5), 12);
    expect(logSoftmaxAt(new Float32Array([-1000, -1001]), 0, 2, 0)).toBeCloseTo(-Math.log(1 + Math.exp(-1)), 12);
    // The unlikely token keeps its exact (tiny) log-prob instead of -Infinity.
    expect(logSoftmaxAt(new Float32Array([0, 200]), 0, 2, 0)).toBeCloseTo(-200, 9);
  });
});
