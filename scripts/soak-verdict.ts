/**
 * The soak's memory verdict (scripts/soak.ts), apart so that it can be tested on series whose
 * answer is known. RSS under load is a sawtooth (garbage collection), so the verdict compares
 * high-water marks: the highest sample in the first third of the time after the warm-up against
 * the highest in the last third. A leak lifts the later peaks; a sawtooth that levels off does not.
 */

/** [seconds since start, RSS bytes, ...anything else sampled with them]. */
export type RssSample = readonly [number, number, ...unknown[]];

export interface RssGrowth {
  /** Samples in each third (the verdict needs at least 3). */
  perThird: number;
  firstPeak: number;
  lastPeak: number;
  /** (lastPeak − firstPeak) / firstPeak. */
  growth: number;
}

/** Growth of the RSS peaks after `warmupS`; null when there are fewer than 3 samples per third. */
export function rssPeakGrowth(samples: readonly RssSample[], warmupS: number): RssGrowth | null {
  const after = samples.filter(([t]) => t >= warmupS).sort((a, b) => a[0] - b[0]).map(([, rss]) => rss);
  const perThird = Math.floor(after.length / 3);
  if (perThird < 3) return null;
  const firstPeak = Math.max(...after.slice(0, perThird));
  const lastPeak = Math.max(...after.slice(after.length - perThird));
  return { perThird, firstPeak, lastPeak, growth: (lastPeak - firstPeak) / firstPeak };
}
