/**
 * Starts the service as a child process (one per workload, so caches start cold), waits for it to
 * be ready, reads its counters, and stops it.
 *
 * The child is `node --import tsx src/server.ts` rather than `npx tsx ...`: the pid we hold is
 * then the server itself, so /proc/<pid>/status gives its peak RSS (VmHWM) and not a launcher's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:http';

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    MODELS_DIR: opts.modelsDir,
    PRM_DEVICE: 'cpu',
    PRM_INTRA_OP_THREADS: String(opts.threads),
    PRM_INTER_OP_THREADS: '1',
    LOG_LEVEL: 'warn',
    REDIS_URL: '',
    // A pass queues every request at once; the bench measures throughput, not deadlines.
    REQUEST_TIMEOUT_MS: '3600000',
    ...opts.env,
  };
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: opts.repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (c: Buffer) => { log = (log + c.toString('utf8')).slice(-8000); };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: number | null = null;
  const exitPromise = new Promise<void>((resolve) => child.once('exit', (code) => { exited = code ?? -1; resolve(); }));

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 180_000);
  for (;;) {
    if (exited !== null) throw new Error(`server exited with ${exited} before becoming ready:\n${log}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server not ready after ${opts.readyTimeoutMs ?? 180_000} ms:\n${log}`);
    }
    const res = await httpGet(port, '/health/ready').catch(() => null);
    if (res?.status === 200) break;
    await sleep(200);
  }
  const listing = JSON.parse((await httpGet(port, '/v1/models')).body) as { models?: { name: string }[] };
  const model = listing.models?.[0]?.name;
  if (!model) throw new Error(`GET /v1/models listed no model: ${JSON.stringify(listing).slice(0, 300)}`);
  const pid = child.pid ?? 0;

  return {
    port,
    pid,
    model,
    metrics: async () => parsePrometheus((await httpGet(port, '/metrics')).body),
    peakRssBytes: () => vmHwmBytes(pid),
    async stop() {
      if (exited !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitPromise;
      clearTimeout(timer);
    },
  };
}
