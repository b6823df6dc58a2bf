/**
 * The service side of each workload: a fresh server (cold caches), a warm-up request on unrelated
 * text (first-run allocations are not what we measure), then the timed passes. Engine and cache
 * counters are read from /metrics before and after every pass, so warm-up work never leaks in.
 */
import type { BundleFacts } from './flops.js';
import { chunk, promptTokens, responseTokens, treeRound, type Item, type TreeTrace } from './workloads.js';
import { quantile, runLoad, type LoadResult, type ResultOut, type ScoreRequest } from './http-load.js';
import { metricSum, startServer, type RunningServer, type ServerOptions } from './server-process.js';

export interface PassReport {
  label: string;
  concurrency: number;
  requests: number;
  items: number;
  /** Response tokens of the items sent, counted by the bench (what tokens/s divides). */
  response_tokens: number;
  /** The same, as the server's usage.response_tokens reported it. */
  server_response_tokens: number;
  cached_tokens: number;
  wall_s: number;
  tokens_per_s: number;
  latency_ms: { p50: number; p99: number; mean: number };
  server_total_ms: { p50: number; p99: number };
  server_queue_ms_p50: number;
  server_infer_ms_p50: number;
  /** Engine positions computed in this pass (real tokens and rows × longest row). */
  engine_real_tokens: number;
  engine_padded_tokens: number;
  /** Forward passes (batches) and the mean rows in one. */
  engine_batches: number;
  mean_batch_rows: number | null;
  padding_waste: number | null;
  cache_hits: { tier1: number; tier2: number };
  cache_misses: { tier1: number; tier2: number };
  /** Engine time by pass stage, summed over every model (prm_engine_seconds_total). */
  engine_seconds: { pack: number; run: number; unpack: number };
}

export interface PassOutcome {
  report: PassReport;
  results: ResultOut[];
  /** x-total-time of requests whose every response token came from the cache. */
  fullyCachedServerMs: number[];
}

async function counters(s: RunningServer) {
  const m = await s.metrics();
  return {
    real: metricSum(m, 'prm_batch_real_tokens_total'),
    padded: metricSum(m, 'prm_batch_padded_tokens_total'),
    batches: metricSum(m, 'prm_batch_rows_count'),
    rows: metricSum(m, 'prm_batch_rows_sum'),
    hit1: metricSum(m, 'prm_cache_hits_total', 'tier1'),
    hit2: metricSum(m, 'prm_cache_hits_total', 'tier2'),
    miss1: metricSum(m, 'prm_cache_misses_total', 'tier1'),
    miss2: metricSum(m, 'prm_cache_misses_total', 'tier2'),
    pack: metricSum(m, 'prm_engine_seconds_total', 'stage="pack"'),
    run: metricSum(m, 'prm_engine_seconds_total', 'stage="run"'),
    unpack: metricSum(m, 'prm_engine_seconds_total', 'stage="unpack"'),
  };
}

/** Runs one or more load phases (e.g. the rounds of the tree workload) as one measured pass. */
export async function measurePass(
  s: RunningServer,
  label: string,
  concurrency: number,
  phases: ScoreRequest[][],
): Promise<PassOutcome> {
  const before = await counters(s);
  const loads: LoadResult[] = [];
  for (const phase of phases) loads.push(await runLoad(s.port, s.model, phase, concurrency));
  const after = await counters(s);
  const samples = loads.flatMap((l) => l.samples);
  const wall = loads.reduce((a, l) => a + l.wallS, 0);
  const requests = phases.flat();
  const tokens = requests.reduce((n, r) => n + r.items.reduce((m, it) => m + responseTokens(it.steps), 0), 0);
  const real = after.real - before.real;
  const padded = after.padded - before.padded;
  const report: PassReport = {
    label,
    concurrency,
    requests: requests.length,
    items: requests.reduce((n, r) => n + r.items.length, 0),
    response_tokens: tokens,
    server_response_tokens: samples.reduce((n, x) => n + x.responseTokens, 0),
    cached_tokens: samples.reduce((n, x) => n + x.cachedTokens, 0),
    wall_s: wall,
    tokens_per_s: tokens / wall,
    latency_ms: {
      p50: quantile(samples.map((x) => x.clientMs), 0.5),
      p99: quantile(samples.map((x) => x.clientMs), 0.99),
      mean: samples.reduce((a, x) => a + x.clientMs, 0) / samples.length,
    },
    server_total_ms: {
      p50: quantile(samples.map((x) => x.serverTotalMs), 0.5),
      p99: quantile(samples.map((x) => x.serverTotalMs), 0.99),
    },
    server_queue_ms_p50: quantile(samples.map((x) => x.serverQueueMs), 0.5),
    server_infer_ms_p50: quantile(samples.map((x) => x.serverInferMs), 0.5),
    engine_real_tokens: real,
    engine_padded_tokens: padded,
    engine_batches: after.batches - before.batches,
    mean_batch_rows: after.batches > before.batches ? (after.rows - before.rows) / (after.batches - before.batches) : null,
    padding_waste: padded > 0 ? 1 - real / padded : null,
    cache_hits: { tier1: after.hit1 - before.hit1, tier2: after.hit2 - before.hit2 },
    cache_misses: { tier1: after.miss1 - before.miss1, tier2: after.miss2 - before.miss2 },
    engine_seconds: { pack: after.pack - before.pack, run: after.run - before.run, unpack: after.unpack - before.unpack },
  };
  if (report.server_response_tokens !== report.response_tokens) {
    throw new Error(`${label}: the server counted ${report.server_response_tokens} response tokens, the bench ${report.response_tokens}; ` +
      'the token accounting of the two sides would differ');
  }
  const fullyCachedServerMs = samples.filter((x) => x.responseTokens > 0 && x.cachedTokens === x.responseTokens).map((x) => x.serverTotalMs);
  return { report, results: loads.flatMap((l) => l.results), fullyCachedServerMs };
}

/** Starts a server, warms it on `warmItems`, runs `body`, and always stops it; adds peak RSS. */
export async function withServer<T>(opts: ServerOptions, warmItems: Item[], body: (s: RunningServer) => Promise<T>): Promise<T & { peak_rss_bytes: number }> {
  const s = await startServer(opts);
  try {
    await runLoad(s.port, s.model, [{ items: warmItems }], 1);
    const out = await body(s);
    return { ...out, peak_rss_bytes: s.peakRssBytes() };
  } finally {
    await s.stop();
  }
}

/** The rl set as requests of `perRequest` items (a prompt's rollouts stay together). */
export function rlRequests(items: Item[], perRequest: number): ScoreRequest[] {
  return chunk(items, perRequest).map((c) => ({ items: c }));
}

/**
 * Tree rounds: round k scores every trace's first k steps. Traces that go on are sent with
 * `partial: true` (separator after the last step, no EOS) so round k is an exact token prefix of
 * round k+1; a trace's last round is sent as a finished solution.
 */
export function treePhases(traces: TreeTrace[], perRequest: number): { phases: ScoreRequest[][]; finals: Item[]; partials: Item[] } {
  const maxSteps = Math.max(...traces.map((t) => t.steps.length));
  const phases: ScoreRequest[][] = [];
  const finals: Item[] = [];
  const partials: Item[] = [];
  for (let k = 1; k <= maxSteps; k++) {
    const { partial, final } = treeRound(traces, k);
    partials.push(...partial);
    finals.push(...final);
    phases.push([
      ...chunk(partial, perRequest).map((c) => ({ items: c, options: { partial: true } })),
      ...chunk(final, perRequest).map((c) => ({ items: c })),
    ]);
  }
  return { phases, finals, partials };
}

/**
 * Tier-2 size for the tree pass, by the rule of docs/deploy.md: every live trace's KV at its final
 * length (layers × 2 × d_model × 4 B per token and model), doubled for the superseded entries
 * of the previous round that the LRU has not evicted yet. Rounded up to MiB.
 */
export function treeKvCacheBytes(b: BundleFacts, traces: readonly TreeTrace[]): number {
  const perToken = b.models * b.layers * 2 * b.dModel * 4;
  const tokens = traces.reduce((n, t) => n + promptTokens(b.template, t.prompt) + responseTokens(t.steps), 0);
  return Math.ceil((2 * tokens * perToken) / 2 ** 20) * 2 ** 20;
}

/** The tree pass's server settings: tier 2 sized for the traces unless the caller set it. */
export function treeServerEnv(b: BundleFacts, traces: readonly TreeTrace[], env: Record<string, string> = {}): Record<string, string> {
  return { KV_CACHE_MAX_BYTES: String(treeKvCacheBytes(b, traces)), ...env };
}

export interface BatchingReport {
  items: number;
  response_tokens: number;
  repeats: number;
  one_request_tokens_per_s: number;
  concurrent_tokens_per_s: number;
  /** Concurrent one-item requests over one many-item request, throughput ratio. */
  efficiency: number;
  one_request_s: number[];
  concurrent_s: number[];
  /** Forward passes per measurement: equal counts mean the batcher merged the requests fully. */
  one_request_batches: number;
  concurrent_batches: number;
}

/**
 * Batching efficiency on a server with both caches off (the same items are sent again and again):
 * N concurrent one-item requests against one N-item request, alternated A B B A … so that drift of
 * a shared machine hits both sides alike; medians are compared.
 */
export async function batchingEfficiency(s: RunningServer, items: Item[], repeats: number): Promise<BatchingReport> {
  const one: number[] = [];
  const many: number[] = [];
  let oneBatches = 0;
  let manyBatches = 0;
  for (let r = 0; r < repeats; r++) {
    const order = r % 2 === 0 ? ['one', 'many'] : ['many', 'one'];
    for (const kind of order) {
      const before = await counters(s);
      if (kind === 'one') one.push((await runLoad(s.port, s.model, [{ items }], 1)).wallS);
      else many.push((await runLoad(s.port, s.model, items.map((it) => ({ items: [it] })), items.length)).wallS);
      const batches = (await counters(s)).batches - before.batches;
      if (kind === 'one') oneBatches += batches;
      else manyBatches += batches;
    }
  }
  const tokens = items.reduce((n, it) => n + responseTokens(it.steps), 0);
  const med = (xs: number[]) => quantile(xs, 0.5);
  const oneTps = tokens / med(one);
  const manyTps = tokens / med(many);
  return {
    items: items.length,
    response_tokens: tokens,
    repeats,
    one_request_tokens_per_s: oneTps,
    concurrent_tokens_per_s: manyTps,
    efficiency: manyTps / oneTps,
    one_request_s: one,
    concurrent_s: many,
    one_request_batches: oneBatches / repeats,
    concurrent_batches: manyBatches / repeats,
  };
}
