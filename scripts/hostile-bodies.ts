/**
 * Hostile and largest bodies against the real service: `npx tsx scripts/hostile-bodies.ts`
 * [--runs 3] [--only TEXT] [--concurrent N] [--no-single] [--redis] [--env NAME=VALUE]... [--node-arg=FLAG]...
 *
 * Starts src/server.ts as a process (test/harness/server-process.ts) on the default model
 * arith-tiny and on arith-nfc, a copy of it whose tokenizer has an NFC normalizer (as Qwen's has;
 * the same ids for ASCII text), and sends each body of scripts/hostile-cases.ts alone. For each it
 * reports the HTTP status, the time to the whole answer, the worst event-loop delay inside the
 * server while it ran, and the server's peak RSS. The delay is the server's own
 * `prm_nodejs_eventloop_lag_max_seconds` (prom-client's perf_hooks.monitorEventLoopDelay, reset
 * by every scrape), its tick set to 1 ms here (`EVENT_LOOP_RESOLUTION_MS=1`; the service's default
 * is 10): /metrics is scraped before the body is sent and again after the answer, so the second
 * scrape's maximum covers the request. A stall of s ms reads between s and s + 1 ms (s + 10 at the
 * default tick). RSS is VmRSS from /proc/<pid>/status every 20 ms.
 *
 * `--concurrent N` (default 0: skipped) then sends N copies of each body at once, each case to a
 * freshly started server (so its peak RSS less the fresh server's is what those requests took), to
 * measure the worst mixes. `--only REGEX` picks cases by name; `--env NAME=VALUE` sets a setting
 * of the server (e.g. the Kubernetes ConfigMap's); `--node-arg=FLAG` passes a flag to node itself
 * (V8's garbage-collector flags, which NODE_OPTIONS refuses). `--redis` starts a redis-server of
 * the script's own on a free port for the whole run and points every server at it (REDIS_URL):
 * the log-prob cache in Redis, as the ConfigMap has it, shared by the servers of one run, so a
 * body repeating traces an earlier body scored is answered from it.
 */
import { parseArgs } from 'node:util';
import { ServerProcess } from '../test/harness/server-process.js';
import { modelsDirWithNfcCopy } from '../test/helpers/nfc-bundle.js';
import { RedisProcess, freePort } from '../test/helpers/redis-server.js';
import { historicCases, largestValidCases, limitCases, longTrace, type HostileCase } from './hostile-cases.js';
import { measureCase, measureConcurrent, type Measurement } from './hostile-measure.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '1' },
    only: { type: 'string' },
    concurrent: { type: 'string', default: '0' },
    'no-single': { type: 'boolean', default: false },
    env: { type: 'string', multiple: true, default: [] },
    'node-arg': { type: 'string', multiple: true, default: [] },
    redis: { type: 'boolean', default: false },
  },
});
const runs = Math.max(1, Number(args.runs));
const concurrent = Math.max(0, Number(args.concurrent));
const extraEnv = Object.fromEntries(args.env.map((kv) => kv.split(/=(.*)/s).slice(0, 2) as [string, string]));

const MODELS = ['arith-tiny', 'arith-nfc'];

/** The most steps longTrace may have for `model` to fit its max_sequence_length, by /tokenize. */
async function fittingSteps(url: string, model: string): Promise<number> {
  const res = await fetch(`${url}/tokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, items: [longTrace(9999, 1), longTrace(9999, 3)] }) });
  const [one, three] = ((await res.json()) as { results: { total_tokens: number }[] }).results.map((r) => r.total_tokens);
  const info = await fetch(`${url}/v1/models`).then((r) => r.json()) as { models: { name: string; max_sequence_length: number }[] };
  const max = info.models.find((m) => m.name === model)!.max_sequence_length;
  return 1 + Math.floor((max - one!) / ((three! - one!) / 2));
}

function casesFor(model: string, steps: number): HostileCase[] {
  // The same traces in every run: the first computes them, later runs measure them cached.
  const all = [...historicCases(), ...limitCases(), ...largestValidCases(steps)];
  const withModel = all.map((c) => ({ ...c, name: `${model}: ${c.name}`, body: withModelName(c, model) }));
  return withModel.filter((c) => args.only === undefined || new RegExp(args.only).test(c.name));
}

/** The body naming `model` (a top-level "model" member added in front). */
function withModelName(c: HostileCase, model: string): Buffer {
  if (c.body[0] !== 0x7b) return c.body;
  return Buffer.concat([Buffer.from(`{"model":${JSON.stringify(model)},`), c.body.subarray(1)]);
}

function row(m: Measurement): string {
  const mib = (b: number) => (b / 2 ** 20).toFixed(0);
  return `| ${m.name} | ${(m.bodyBytes / 1e6).toFixed(2)} MB | ${m.status} ${m.code ?? ''} | ${m.ms.toFixed(0)} ms | ${m.answerBytes} B | ${m.lagMaxMs.toFixed(1)} ms | ${mib(m.rssBefore)} → ${mib(m.rssPeak)} MiB |`;
}

/** The run's own Redis (--redis), started by main. */
let redis: RedisProcess | undefined;

function startServer(modelsDir: string): Promise<ServerProcess> {
  const cache: Record<string, string> = redis ? { REDIS_URL: redis.url } : {};
  return freePort().then((port) => ServerProcess.start({ PORT: String(port), MODELS_DIR: modelsDir, DEFAULT_MODEL: 'arith-tiny', LOG_LEVEL: 'warn', EVENT_LOOP_RESOLUTION_MS: '1', ...cache, ...extraEnv }, { nodeArgs: args['node-arg'] }));
}

async function singleCases(modelsDir: string, results: Measurement[]): Promise<void> {
  const server = await startServer(modelsDir);
  try {
    for (let run = 0; run < runs; run++) {
      for (const name of MODELS) {
        for (const c of casesFor(name, await fittingSteps(server.url, name))) {
          const m = await measureCase(server, c);
          results.push(m);
          console.log(row(m));
        }
      }
    }
  } finally {
    await server.stop();
  }
}

async function concurrentCases(modelsDir: string, results: Measurement[]): Promise<void> {
  let steps = 0;
  for (const c of casesFor('arith-tiny', 31)) {
    const server = await startServer(modelsDir);
    try {
      steps ||= await fittingSteps(server.url, 'arith-tiny');
      const [fitted] = casesFor('arith-tiny', steps).filter((x) => x.name === c.name);
      const m = await measureConcurrent(server, fitted ?? c, concurrent);
      results.push(m);
      console.log(row(m));
    } finally {
      await server.stop();
    }
  }
}

async function main(): Promise<void> {
  const modelsDir = modelsDirWithNfcCopy();
  const results: Measurement[] = [];
  console.log('| case | body | status | time | answer | worst event-loop delay | RSS before → peak |');
  console.log('|---|---|---|---|---|---|---|');
  if (args.redis) redis = await RedisProcess.start();
  try {
    if (!args['no-single']) await singleCases(modelsDir, results);
    if (concurrent > 0) await concurrentCases(modelsDir, results);
  } finally {
    await redis?.kill();
  }
  console.log(JSON.stringify({ results }));
}

await main();
