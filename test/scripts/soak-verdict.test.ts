/**
 * The soak's memory verdict on series whose answer is known by construction: a garbage-collection
 * sawtooth that levels off must pass whatever phase the samples catch, and the same sawtooth on a
 * slow leak must fail.
 */
import { describe, expect, it } from 'vitest';
import { rssPeakGrowth, type RssSample } from '../../scripts/soak-verdict.js';

const MiB = 1024 * 1024;

/** RSS every 5 s for `seconds`: base + a sawtooth (rises `amp` over `period`, then drops) + leak·t. */
function series(seconds: number, o: { base: number; amp: number; period: number; phase: number; leakPerS: number }): RssSample[] {
  const out: RssSample[] = [];
  for (let t = 5; t <= seconds; t += 5) {
    const tooth = (((t + o.phase) % o.period) / o.period) * o.amp;
    out.push([t, (o.base + tooth + o.leakPerS * t) * MiB]);
  }
  return out;
}

describe('soak RSS verdict (peaks of the first and last third after the warm-up)', () => {
  it('passes a sawtooth without a trend, at every phase, where first-vs-last medians swing past 10%', () => {
    let worstMedianSwing = 0;
    for (let phase = 0; phase < 120; phase += 5) {
      const s = series(900, { base: 450, amp: 100, period: 120, phase, leakPerS: 0 });
      const g = rssPeakGrowth(s, 225)!;
      expect(g.perThird).toBe(45);
      expect(Math.abs(g.growth)).toBeLessThan(0.01);
      // What the old criterion (medians of the first and last three samples) saw at this phase.
      const after = s.filter(([t]) => t >= 225).map(([, r]) => r);
      const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
      worstMedianSwing = Math.max(worstMedianSwing, (med(after.slice(-3)) - med(after.slice(0, 3))) / med(after.slice(0, 3)));
    }
    expect(worstMedianSwing).toBeGreaterThan(0.1);
  });

  it('sees a leak under the same sawtooth: 0.1 MiB/s as the drift between the peaks, 0.2 MiB/s past the 10% bound', () => {
    for (let phase = 0; phase < 120; phase += 5) {
      const g = rssPeakGrowth(series(900, { base: 450, amp: 100, period: 120, phase, leakPerS: 0.1 }), 225)!;
      // Peaks 450 s apart, give or take one period: between (450 − 120)·0.1 and (450 + 120)·0.1 MiB on ~550.
      expect(g.growth).toBeGreaterThan((330 * 0.1) / 560);
      expect(g.growth).toBeLessThan((570 * 0.1) / 550);
    }
    for (let phase = 0; phase < 120; phase += 5) {
      const steep = rssPeakGrowth(series(900, { base: 450, amp: 100, period: 120, phase, leakPerS: 0.2 }), 225)!;
      expect(steep.growth).toBeGreaterThanOrEqual(0.1);
    }
  });

  it('needs three samples in each third, and orders samples by time', () => {
    expect(rssPeakGrowth(series(60, { base: 450, amp: 0, period: 120, phase: 0, leakPerS: 0 }), 25)).toBeNull(); // 8 samples
    expect(rssPeakGrowth(series(60, { base: 450, amp: 0, period: 120, phase: 0, leakPerS: 0 }), 20)).not.toBeNull(); // 9
    const s = series(300, { base: 400, amp: 0, period: 120, phase: 0, leakPerS: 1 });
    const g = rssPeakGrowth([...s].reverse(), 0)!;
    expect(g.lastPeak).toBeGreaterThan(g.firstPeak);
  });
});
