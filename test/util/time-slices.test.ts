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

  it('runs one slice per turn of the event loop when many loops wait, each loop in its turn', async () => {
    // '|' marks each turn (a setImmediate chain); digits are the elements each loop maps.
    await new Promise((r) => setImmediate(r));
    const log: string[] = [];
    let on = true;
    const tick = () => {
      if (!on) return;
      log.push('|');
      setImmediate(tick);
    };
    setImmediate(tick);
    const loops = Array.from({ length: 6 }, (_, loop) => mapInSlices(Array.from({ length: 6 }), () => {
      busy(SLICE_MS / 2);
      log.push(String(loop));
    }));
    await Promise.all(loops);
    on = false;
    // After the turn that started them, every turn holds the elements of one loop at most.
    const turns = log.join('').split('|').slice(1).filter((t) => t.length > 0);
    expect(turns.length).toBeGreaterThanOrEqual(6);
    expect(turns.filter((t) => new Set(t).size > 1)).toEqual([]);
    // Round robin: the loops resume in the order they yielded, so each has its turn once in every
    // six (each loop has three slices' worth of work).
    const order = turns.map((t) => t[0]).join('');
    expect(order.slice(0, 12)).toBe('012345012345');
  });

  it('takes no turn for work shorter than a slice', async () => {
    // A turn of its own, as a request's work starts after the one before it has ended.
    await new Promise((r) => setImmediate(r));
    let turned = false;
    setImmediate(() => (turned = true));
    expect(await mapInSlices([1, 2, 3], (x) => x + 1)).toEqual([2, 3, 4]);
    expect(turned).toBe(false);
  });
});
