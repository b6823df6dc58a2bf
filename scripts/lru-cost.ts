/**
 * `npx tsx scripts/lru-cost.ts [entries]`: what the in-process caches' LRU costs per operation
 * when full — a hot key read among `entries` (default 100 000), and a store that evicts — after
 * a churn of as many stores again (the state a long-running service reaches). Prints JSON.
 */
import { ByteLru } from '../src/util/byte-lru.js';

type Lru = { get(k: string): unknown; set(k: string, v: number[]): unknown };

function microseconds(n: number, op: (i: number) => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) op(i);
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

export function lruCost(make: (maxBytes: number) => Lru, entries: number): Record<string, number> {
  const value = [1, 2, 3, 4];
  const perEntry = 8 * value.length + 2 * 'key-0000000'.length;
  const lru = make(entries * perEntry);
  for (let i = 0; i < 2 * entries; i++) lru.set(`key-${String(i).padStart(7, '0')}`, value); // fill, then churn
  const hot = `key-${String(2 * entries - 1).padStart(7, '0')}`;
  return {
    entries,
    get_hot_us: microseconds(100_000, () => lru.get(hot)),
    get_cold_us: microseconds(10_000, (i) => lru.get(`key-${String(entries + ((i * 7919) % entries)).padStart(7, '0')}`)),
    set_evicting_us: microseconds(10_000, (i) => lru.set(`new-${String(i).padStart(7, '0')}`, value)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const entries = Number(process.argv[2] ?? 100_000);
  console.log(JSON.stringify(lruCost((max) => new ByteLru<number[]>(max, (v) => v.length * 8), entries)));
}
