/**
 * Soak test: `npm run soak [-- --seconds 900]` (the default; at most 3600).
 *
 * Starts a private redis-server and the service (src/server.ts, a real process) on loopback, on
 * models/arith-tiny when it exists, else on the tiny test bundles (or `--models-dir DIR --model
 * NAME`, e.g. test/fixtures/bundles and tiny-logprobs-fused for the new_key_values KV path); drives a fixed number of
 * keep-alive clients for the given time with a mix of requests (new and repeated traces, batches,
 * step-by-step extension of partial traces, /get_reward, and deliberately invalid bodies whose 4xx
 * is the expected answer); samples the server's resident memory (VmRSS) after the warm-up and at
 * the end; then stops it with SIGTERM.
 *
 * The caches are bounded by the settings; the soak gives the in-process KV cache a small bound so
 * that it is full before the first memory sample, because what is measured is growth that no
 * setting bounds (a leak), not a cache filling up.
 *
 * RSS is a sawtooth, not a level: the main thread's V8 heap climbs by ~100 MiB between major
 * collections (one cycle every one to two minutes under the soak's load), so two readings, or the
 * medians of a few, land on whatever phase of a cycle they happen to hit. A leak raises the tops
 * of the teeth; a sawtooth does not. So growth compares the highest RSS sample (every 5 s) in the
 * first third of the time after the warm-up with the highest in the last third, and the default
 * run (900 s, warm-up 225 s) gives each third several cycles. The medians of the first and last
 * three samples are still reported (`rss_growth_percent_medians`), for comparison with older
 * runs. The V8 heap in use (from /metrics) is reported beside it, which tells a JavaScript leak
 * from native memory.
 *
 * `--malloc-stats` (needs gdb): glibc's own heap figures (scripts/malloc-stats.ts) after the warm-up
 * and at the end, to tell memory still in use from freed memory that glibc keeps.
 *
 * Prints one JSON summary; exits 1 when a request failed (a network error, an unexpected status),
 * the server did not exit 0, or the RSS peaks grew by 10 % or more after the warm-up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trace } from '../test/helpers/traces.js';
import { parseMallocStats, requestMallocStats, type MallocStats } from './malloc-stats.js';
import { rssPeakGrowth } from './soak-verdict.js';

const ROOT = new URL('../', import.meta.url).pathname;
const MAX_SECONDS = 3600;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '900' },
    clients: { type: 'string', default: '4' },
    warmup: { type: 'string' },
    'models-dir': { type: 'string' },
    model: { type: 'string' },
    'malloc-stats': { type: 'boolean', default: false },
  },
});
const seconds = Math.min(MAX_SECONDS, Math.max(10, Number(args.seconds)));
const clients = Math.max(1, Number(args.clients));
// Warm-up: long enough for the caches and V8's heap to reach their working size.
const warmupS = args.warmup !== undefined ? Number(args.warmup) : Math.max(10, Math.round(seconds * 0.25));
// Nine memory samples (45 s) after the warm-up at least: three in each third.
if (![seconds, clients, warmupS].every(Number.isFinite) || seconds - warmupS < 45) {
  console.error('usage: npm run soak -- [--seconds N (≤ 3600, default 900)] [--clients N] [--warmup N (≤ seconds − 45)] [--models-dir DIR --model NAME] [--malloc-stats]');
  process.exit(2);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

async function waitFor(url: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(url).catch(() => null);
    if (res?.status === 200) return;
    if (Date.now() > until) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await sleep(200);
  }
}

interface Planned {
  path: string;
  body: unknown;
  /** The status this request must get. */
  expect: number;
}

let fresh = 1_000_000;
/** Request number i of the mix. */
function plan(i: number): Planned {
  const kind = i % 10;
  if (kind < 4) return { path: '/v1/score', body: { items: [trace(i % 200, 3)] }, expect: 200 }; // repeats
  if (kind < 6) {
    const items = Array.from({ length: 1 + (i % 4) }, () => trace(fresh++, 2 + (i % 3)));
    return { path: '/v1/score', body: { items, options: { token_rewards: i % 2 === 0 } }, expect: 200 };
  }
  if (kind === 6) {
    // Tree search: consecutive requests of this kind extend the same partial trace step by step.
    const t = trace(5_000_000 + Math.floor(i / 40), 4);
    return { path: '/v1/score', body: { items: [{ prompt: t.prompt, steps: t.steps.slice(0, 1 + (i % 3)) }], options: { partial: true } }, expect: 200 };
  }
  if (kind === 7) {
    const t = trace(i % 300, 3);
    return { path: '/get_reward', body: { query: [`${t.prompt}\n${t.steps.join('\n')}`], prompts: [t.prompt] }, expect: 200 };
  }
  if (kind === 8) return { path: '/v1/score', body: { items: [{ prompt: '1+1', steps: ['1+1=2', ''] }] }, expect: 400 };
  return { path: '/v1/score', body: { items: [trace(fresh++, 2)], model: 'no-such-model' }, expect: 404 };
}

async function heapUsedBytes(base: string): Promise<number> {
  const text = await fetch(`${base}/metrics`).then((r) => r.text()).catch(() => '');
  const m = /^prm_nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const MiB = 1024 * 1024;

/** malloc_stats() in MiB: totals, and per arena (0 = main thread) system / in use. */
function mallocMib(m: MallocStats | null) {
  if (m === null) return null;
  return {
    system: round(m.total.system / MiB),
    in_use: round(m.total.inUse / MiB),
    arenas: m.arenas.map((a) => [round(a.system / MiB), round(a.inUse / MiB)]),
  };
}

async function main(): Promise<number> {
  const arith = join(ROOT, 'models', 'arith-tiny', 'prm.json');
  const modelsDir = args['models-dir'] ?? (existsSync(arith) ? join(ROOT, 'models') : join(ROOT, 'test', 'fixtures', 'bundles'));
  const defaultModel = args.model ?? (existsSync(arith) && args['models-dir'] === undefined ? 'arith-tiny' : 'tiny-logprobs');

  const redisPort = await freePort();
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const port = await freePort();
  const server: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      MODELS_DIR: modelsDir,
      DEFAULT_MODEL: defaultModel,
      PRM_DEVICE: 'cpu',
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      REDIS_TIMEOUT_MS: '250',
      KV_CACHE_MAX_BYTES: String(16 * MiB),
    },
    // stderr is read only to pick up malloc_stats() blocks; everything is passed on as it comes.
    stdio: ['ignore', 'inherit', args['malloc-stats'] ? 'pipe' : 'inherit'],
  });
  let serverStderr = '';
  server.stderr?.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    serverStderr = (serverStderr + chunk.toString('utf8')).slice(-64 * 1024);
  });
  /** glibc's heap figures of the server now (null without --malloc-stats, or when gdb failed). */
  const mallocNow = async (): Promise<MallocStats | null> => {
    if (!args['malloc-stats'] || !requestMallocStats(server.pid!)) return null;
    await sleep(300); // the block arrives through the pipe
    return parseMallocStats(serverStderr);
  };
  const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
  const cleanup = () => {
    server.kill('SIGKILL');
    redis.kill('SIGKILL');
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });

  try {
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`${base}/health/ready`, 180_000);

    let requests = 0;
    const failures: { path: string; status: number | string; expected: number; body: string }[] = [];
    const latencies: number[] = [];
    const start = performance.now();
    const end = start + seconds * 1000;
    // [seconds since start, RSS bytes, V8 heap used bytes] every 5 s.
    const samples: [number, number, number][] = [];
    let mallocWarm: Promise<MallocStats | null> | null = null;
    const sampler = setInterval(() => {
      if (mallocWarm === null && (performance.now() - start) / 1000 >= warmupS) mallocWarm = mallocNow();
      const t = (performance.now() - start) / 1000;
      const rss = rssBytes(server.pid!);
      void heapUsedBytes(base).then((heap) => samples.push([t, rss, heap]));
    }, 5000);

    let next = 0;
    const client = async () => {
      while (performance.now() < end) {
        const p = plan(next++);
        const t0 = performance.now();
        try {
          const res = await fetch(base + p.path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(p.body) });
          const text = await res.text();
          if (res.status !== p.expect) failures.push({ path: p.path, status: res.status, expected: p.expect, body: text.slice(0, 200) });
        } catch (err) {
          failures.push({ path: p.path, status: 'network-error', expected: p.expect, body: String((err as Error).cause ?? err) });
        }
        latencies.push(performance.now() - t0);
        requests++;
      }
    };
    await Promise.all(Array.from({ length: clients }, client));
    clearInterval(sampler);
    const mallocEnd = await mallocNow();
    const mallocStart = await (mallocWarm ?? Promise.resolve(null));
    const elapsed = (performance.now() - start) / 1000;
    const after = samples.filter(([t]) => t >= warmupS);
    const first = after.slice(0, 3);
    const last = after.slice(-3);
    const peaks = rssPeakGrowth(samples, warmupS);
    const warmRss = median(first.map((x) => x[1]));
    const endRss = median(last.map((x) => x[1]));
    const warmHeap = median(first.map((x) => x[2]));
    const endHeap = median(last.map((x) => x[2]));

    server.kill('SIGTERM');
    const exitCode = await exited;
    latencies.sort((a, b) => a - b);
    const growth = peaks?.growth ?? Number.NaN;
    const summary = {
      seconds: round(elapsed),
      warmup_seconds: warmupS,
      clients,
      model: defaultModel,
      requests,
      requests_per_second: round(requests / elapsed),
      failed: failures.length,
      first_failures: failures.slice(0, 5),
      latency_ms: { p50: round(percentile(latencies, 50)), p90: round(percentile(latencies, 90)), p99: round(percentile(latencies, 99)), max: round(latencies.at(-1) ?? Number.NaN) },
      rss_mib: { after_warmup: round(warmRss / MiB), end: round(endRss / MiB), peak_after_warmup: round(Math.max(...after.map((x) => x[1])) / MiB) },
      rss_peak_mib: peaks && { first_third: round(peaks.firstPeak / MiB), last_third: round(peaks.lastPeak / MiB) },
      rss_growth_percent: round(growth * 100, 2),
      rss_growth_percent_medians: round(((endRss - warmRss) / warmRss) * 100, 2),
      heap_used_mib: { after_warmup: round(warmHeap / MiB), end: round(endHeap / MiB) },
      malloc_mib: args['malloc-stats'] ? { after_warmup: mallocMib(mallocStart), end: mallocMib(mallocEnd) } : undefined,
      rss_mib_every_5s: samples.map((x) => round(x[1] / MiB)),
      heap_used_mib_every_5s: samples.map((x) => round(x[2] / MiB)),
      server_exit_code: exitCode,
      pass: failures.length === 0 && peaks !== null && growth < 0.1 && exitCode === 0,
    };
    console.log(JSON.stringify(summary, null, 2));
    return summary.pass ? 0 : 1;
  } finally {
    cleanup();
  }
}

process.exit(await main());
