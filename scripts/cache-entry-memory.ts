/**
 * What the in-process log-prob cache holds in memory against what it charges to its budget:
 * `node --expose-gc --import tsx scripts/cache-entry-memory.ts [--budget-mib 64]`
 *
 * For steps of 1, 8, 32 and 128 tokens (with a reference model), fills a MemoryLogprobCache of
 * the budget past full with entries made as the pipeline makes them (stepSlices of a computed
 * trace, under HashChain.logprobKey), so it evicts as it does in service, then collects fully and
 * reads what the process's heap and array buffers grew by. `live / budget` above 1 means a full
 * cache takes more memory than CACHE_MAX_BYTES says.
 */
import { parseArgs } from 'node:util';
import { MemoryLogprobCache } from '../src/cache/logprob-cache.js';
import { HashChain } from '../src/cache/segment-keys.js';
import { stepSlices } from '../src/core/plan-rows.js';

const { values: args } = parseArgs({ options: { 'budget-mib': { type: 'string', default: '64' } } });
const budget = Number(args['budget-mib']) * 2 ** 20;
const STEPS = 10;

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc --import tsx');
const collect = () => {
  for (let i = 0; i < 3; i++) globalThis.gc!();
};
const liveBytes = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

/** The entries of one computed trace of STEPS steps of `tokens` tokens, as the pipeline stores them. */
function traceEntries(trace: number, tokens: number): (readonly [string, ReturnType<typeof stepSlices>[number]])[] {
  const segments = [[trace, 2, 3], ...Array.from({ length: STEPS }, (_, k) => new Array<number>(tokens).fill(k + 1))];
  const chain = HashChain.of('sha256:fingerprint', segments);
  const n = STEPS * tokens;
  const logprobs = { policy: new Float32Array(n).fill(-1), reference: new Float32Array(n).fill(-2) };
  return stepSlices(segments, 1, logprobs).map((v, j) => [chain.logprobKey(j + 1), v] as const);
}

console.log('| tokens per step | entries held | charged | live (heap + array buffers) | live / budget |');
console.log('|---|---|---|---|---|');
for (const tokens of [1, 8, 32, 128]) {
  collect();
  const before = liveBytes();
  const cache = new MemoryLogprobCache(budget);
  // Until the budget has been filled twice over: the cache is full and has evicted.
  let stored = 0;
  for (let trace = 0; stored < 2 * budget; trace++) {
    const entries = traceEntries(trace, tokens);
    cache.setMany(entries);
    stored += entries.reduce((s, [k, v]) => s + k.length * 2 + v.policy.byteLength * 2, 0);
  }
  collect();
  const live = liveBytes() - before;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const held = Number(/(\d+) segments/.exec(cache.health().detail)![1]);
  console.log(`| ${tokens} | ${held} | ${mib(cache.bytes)} | ${mib(live)} | ${(live / budget).toFixed(2)} |`);
  await cache.close();
}
