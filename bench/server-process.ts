/**
 * The service as a child process for the bench (one per workload, so caches start cold), started
 * by the same harness as the tests' process-level checks: its readiness, its counters, its peak
 * memory, and its stop. The child is `node --import tsx src/server.ts`, so the pid held is the
 * server itself and /proc/<pid>/status gives its peak RSS (VmHWM), not a launcher's.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:http';
import type { ModelsResponse } from '../src/client/types.js';
import { ServerProcess } from '../test/harness/server-process.js';

export interface ServerOptions {
  repoRoot: string;
  modelsDir: string;
  threads: number;
  /** Extra environment (MAX_BATCH_TOKENS, CACHE_MAX_BYTES, ...), applied last. */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

export interface RunningServer {
  port: number;
  pid: number;
  /** Name of the single model the server loaded (from GET /v1/models). */
  model: string;
  metrics(): Promise<Map<string, number>>;
  /** Peak resident set size of the server process so far, bytes (VmHWM). */
  peakRssBytes(): number;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** GET on the server; resolves with status and body text (never rejects on HTTP status). */
export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Prometheus text → "name{labels}" → value (samples summed when a series repeats). */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = /^(\S+?(?:\{.*\})?)\s+(\S+)/.exec(line);
    if (!m) continue;
    const v = Number(m[2]);
    if (Number.isFinite(v)) out.set(m[1], (out.get(m[1]) ?? 0) + v);
  }
  return out;
}

/** Sum of every series of a metric (all label sets), e.g. prm_batch_real_tokens_total. */
export function metricSum(m: Map<string, number>, name: string, labelFilter = ''): number {
  let sum = 0;
  for (const [k, v] of m) {
    if ((k === name || k.startsWith(`${name}{`)) && k.includes(labelFilter)) sum += v;
  }
  return sum;
}

function vmHwmBytes(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The server through the tests' process harness (test/harness/server-process.ts), on the bench's settings. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const port = await freePort();
  const server = await ServerProcess.start(
    {
      PORT: String(port),
      MODELS_DIR: opts.modelsDir,
      PRM_INTRA_OP_THREADS: String(opts.threads),
      LOG_LEVEL: 'warn',
      REDIS_URL: '',
      // A pass queues every request at once; the bench measures throughput, not deadlines.
      REQUEST_TIMEOUT_MS: '3600000',
      ...opts.env,
    },
    { repoRoot: opts.repoRoot, readyTimeoutMs: opts.readyTimeoutMs ?? 180_000 },
  );
  const listing = JSON.parse((await httpGet(port, '/v1/models')).body) as ModelsResponse;
  const model = listing.models?.[0]?.name;
  if (!model) throw new Error(`GET /v1/models listed no model: ${JSON.stringify(listing).slice(0, 300)}`);
  return {
    port,
    pid: server.pid,
    model,
    metrics: async () => parsePrometheus((await httpGet(port, '/metrics')).body),
    peakRssBytes: () => vmHwmBytes(server.pid),
    stop: async () => void (await server.stop(10_000)),
  };
}
