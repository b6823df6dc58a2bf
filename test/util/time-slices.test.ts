import { describe, expect, it } from 'vitest';
import { mapInSlices, SLICE_MS } from '../../src/util/time-slices.js';
import { turnsDuring } from '../helpers/turns.js';

/** Busy for `ms` of wall time, as synchronous work on the event loop is. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('mapInSlices', () => {
  it('maps in order and gives the event loop back once a slice has run its time', async () => {
    // 20 elements of SLICE_MS / 2 each: ten slices' worth of work.
    const { result: out, turns } = await turnsDuring(() => mapInSlices(Array.from({ length: 20 }, (_, i) => i), (x, i) => {
      busy(SLICE_MS / 2);
      return x * 10 + i;
    }));
    expect(out).toEqual(Array.from({ length: 20 }, (_, i) => i * 11));
    expect(turns).toBeGreaterThanOrEqual(8);
  });

  it('takes no turn for work shorter than a slice', async () => {
    let turned = false;
    setImmediate(() => (turned = true));
    expect(await mapInSlices([1, 2, 3], (x) => x + 1)).toEqual([2, 3, 4]);
    expect(turned).toBe(false);
  });
});
