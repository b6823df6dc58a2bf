/**
 * Overload: where does the engine's time go when more clients call than it can serve?
 *
 *   npx tsx scripts/overload.ts [--seconds 20] [--levels 1,2,4,8,16] [--multiples 2,5] [--clients 160]
 *                               [--items 32] [--retry honour|at-once] [--timeout-ms N] [--env NAME=VALUE]...
 *                               [--node-arg=FLAG]... [--repo-root DIR | --url URL]
 *
 * Starts the service (src/server.ts, a real process, of this checkout or of --repo-root) on
 * models/arith-tiny, and drives closed-loop clients that each send RL-style requests (--items
 * traces: groups of 8 rollouts of one problem, every trace new, so nothing is a cache hit).
 * First it finds the concurrency that saturates the engine: the fewest clients whose throughput
 * is within 10 % of the best of --levels. Then it runs --multiples of that concurrency, and
 * --clients, for --seconds each, and reports per run: answers by status, latency of the 200s and
 * of the refusals, whether every 503 carried Retry-After, and how the engine's work split by what
 * became of the request it served (`prm_engine_request_tokens_total{outcome}`). A refused client
 * retries at once (--retry at-once, the hostile default) or after Retry-After (--retry honour).
 * --timeout-ms sends each request with that deadline (the server's REQUEST_TIMEOUT_MS otherwise);
 * a run must last longer than the deadline for late answers to show. `--env REQUEST_TIMEOUT_MS=5000`
 * gives the server itself that deadline instead (requests then carry none, as OpenRLHF's do), and
 * `--env` sets any other setting of the server the same way; `--node-arg=FLAG` passes a flag to node.
 *
 * Prints one JSON summary. Single runs on a shared machine: compare builds on the same machine in
 * one sitting.
 */
import { parseArgs } from 'node:util';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { seededRandom } from '../src/util/seeded-random.js';
import { quantile } from '../bench/http-load.js';
import { ServerProcess } from '../test/harness/server-process.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    levels: { type: 'string', default: '1,2,4,8,16' },
    multiples: { type: 'string', default: '2,5' },
    clients: { type: 'string', default: '160' },
    items: { type: 'string', default: '32' },
    retry: { type: 'string', default: 'at-once' },
    'timeout-ms': { type: 'string' },
    env: { type: 'string', multiple: true, default: [] },
    'node-arg': { type: 'string', multiple: true, default: [] },
    'repo-root': { type: 'string' },
    url: { type: 'string' },
  },
});
const numbers = (text: string) => text.split(',').filter(Boolean).map(Number);
const seconds = Number(args.seconds);
const itemsPerRequest = Number(args.items);
const honourRetryAfter = args.retry === 'honour';
const timeoutMs = args['timeout-ms'] !== undefined ? Number(args['timeout-ms']) : undefined;
const serverEnv = Object.fromEntries(args.env.map((kv) => kv.split(/=(.*)/s).slice(0, 2) as [string, string]));

/** One arithmetic chain in arith-tiny's domain (values 0–99, operations left to right). */
function chain(r: () => number): { prompt: string; steps: string[] } {
  const n = 2 + Math.floor(r() * 4);
  let value = 10 + Math.floor(r() * 80);
  let prompt = String(value);
  const steps: string[] = [];
  for (let k = 0; k < n; k++) {
    const add = value < 50 || r() < 0.3;
    const operand = add ? 1 + Math.floor(r() * (99 - value)) : 1 + Math.floor(r() * value);
    const next = add ? value + operand : value - operand;
    prompt += `${add ? '+' : '-'}${operand}`;
    steps.push(`${value}${add ? '+' : '-'}${operand}=${next}`);
    value = next;
  }
  return { prompt, steps: [...steps, `Answer: ${value}`] };
}

/** Request number i: groups of 8 rollouts of one problem, each rollout's last step made distinct. */
function requestBody(i: number): unknown {
  const items = [];
  for (let g = 0; g < itemsPerRequest / 8; g++) {
    const problem = chain(seededRandom(i * 1009 + g));
    for (let k = 0; k < 8; k++) {
      const steps = [...problem.steps.slice(0, -1), `Answer: ${(i * 8 + k) % 100}`];
      items.push({ prompt: problem.prompt, steps: k === 0 ? problem.steps : steps });
    }
  }
  return timeoutMs === undefined ? { items } : { items, options: { timeout_ms: timeoutMs } };
}

interface Answer {
  status: number;
  ms: number;
  retryAfter: string | null;
  /** The error code of a refusal. */
  code?: string;
}

/** One POST on a keep-alive connection; a network error counts as status 0. */
function post(agent: Agent, url: URL, body: string): Promise<Omit<Answer, 'ms'>> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => res.statusCode !== 200 && chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        retryAfter: (res.headers['retry-after'] as string | undefined) ?? null,
        code: res.statusCode === 200 ? undefined : errorCode(Buffer.concat(chunks).toString()),
      }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, retryAfter: null, code: err.code ?? 'network error' }));
    req.end(body);
  });
}

function errorCode(body: string): string {
  try {
    return (JSON.parse(body) as { error: { code: string } }).error.code;
  } catch {
    return 'unreadable';
  }
}

/** The next request's number, across runs: every request is new, so no run is served from the caches of one before it. */
let next = 0;

async function drive(url: string, clients: number, durationS: number): Promise<Answer[]> {
  const answers: Answer[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const target = new URL('/v1/score', url);
  const until = performance.now() + durationS * 1000;
  const client = async () => {
    while (performance.now() < until) {
      const body = JSON.stringify(requestBody(next++));
      const t0 = performance.now();
      const answer = { ...(await post(agent, target, body)), ms: 0 };
      answers.push({ ...answer, ms: performance.now() - t0 });
      if (answer.status === 503 && honourRetryAfter) await new Promise((r) => setTimeout(r, Number(answer.retryAfter ?? 1) * 1000));
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  agent.destroy();
  return answers;
}

async function engineTokens(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = { succeeded: 0, failed: 0, shared: 0 };
  for (const m of text.matchAll(/^prm_engine_request_tokens_total\{outcome="(\w+)"\} ([\d.e+-]+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** One closed-loop run and what it did to the engine's time. */
async function run(url: string, clients: number) {
  const before = await engineTokens(url);
  const answers = await drive(url, clients, seconds);
  const after = await engineTokens(url);
  const spent = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)]));
  const total = spent.succeeded + spent.failed + spent.shared;
  const ok = answers.filter((a) => a.status === 200);
  const refused = answers.filter((a) => a.status === 503);
  const statuses: Record<string, number> = {};
  for (const a of answers) statuses[a.code ?? a.status] = (statuses[a.code ?? a.status] ?? 0) + 1;
  return {
    clients,
    statuses,
    items_per_s: round((ok.length * itemsPerRequest) / seconds),
    ok_ms: { p50: round(quantile(ok.map((a) => a.ms), 0.5)), p99: round(quantile(ok.map((a) => a.ms), 0.99)) },
    refused_ms: { p50: round(quantile(refused.map((a) => a.ms), 0.5)), p99: round(quantile(refused.map((a) => a.ms), 0.99)), max: round(Math.max(0, ...refused.map((a) => a.ms))) },
    refused_with_retry_after: refused.filter((a) => a.retryAfter !== null).length,
    engine_tokens: spent,
    engine_share_succeeded_percent: total > 0 ? round((100 * (spent.succeeded + spent.shared)) / total) : null,
    engine_share_failed_percent: total > 0 ? round((100 * spent.failed) / total) : null,
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** The fewest clients whose throughput is within 10 % of the best level's. */
function saturating(levels: { clients: number; items_per_s: number }[]): number {
  const best = Math.max(...levels.map((l) => l.items_per_s));
  return levels.find((l) => l.items_per_s >= 0.9 * best)!.clients;
}

async function measure(url: string) {
  const levels = [];
  for (const clients of numbers(args.levels)) levels.push(await run(url, clients));
  const saturation = saturating(levels);
  const overload = [];
  for (const m of numbers(args.multiples)) overload.push({ multiple: m, ...(await run(url, m * saturation)) });
  for (const clients of numbers(args.clients)) overload.push({ multiple: round(clients / saturation), ...(await run(url, clients)) });
  return { seconds, items_per_request: itemsPerRequest, retry: args.retry, timeout_ms: timeoutMs ?? null, server_env: serverEnv, saturation_clients: saturation, levels, overload };
}

/** Against --url when given (a server started by hand), else a server of its own. */
async function main(): Promise<void> {
  if (args.url !== undefined) {
    console.log(JSON.stringify(await measure(args.url), null, 2));
    return;
  }
  const server = await ServerProcess.start(
    { PORT: String(await freePort()), MODELS_DIR: 'models', DEFAULT_MODEL: 'arith-tiny', LOG_LEVEL: 'warn', PRM_INTRA_OP_THREADS: '0', PRM_INTER_OP_THREADS: '0', ...serverEnv },
    { repoRoot: args['repo-root'], nodeArgs: args['node-arg'] },
  );
  try {
    console.log(JSON.stringify(await measure(server.url), null, 2));
  } finally {
    await server.stop();
  }
}

await main();
