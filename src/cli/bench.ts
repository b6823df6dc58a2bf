/**
 * `prm bench`: a light load generator for a running service. Sends N scoring requests with C in
 * flight, each carrying K synthetic arithmetic traces (fresh random problems, so the service's
 * caches do not flatter the numbers unless --cached asks for exactly that), and prints request
 * and token throughput with latency percentiles. Overload answers are counted, not retried: they
 * are part of what a benchmark measures.
 */
import { PrmClient } from '../client/client.js';
import { PrmApiError } from '../client/errors.js';
import type { ScoreItem } from '../client/types.js';
import { CONNECTION_OPTIONS, HELP_OPTION, apiKey, helpText, int, parseOrHelp, str, type OptionTable, type Parsed } from './args.js';
import { checkService } from './connect.js';
import { seededRandom } from '../util/seeded-random.js';

const OPTIONS: OptionTable = {
  ...CONNECTION_OPTIONS,
  requests: { type: 'string', short: 'n', value: 'N', default: '100', help: 'Requests to send (after the warm-up)' },
  concurrency: { type: 'string', short: 'c', value: 'C', default: '8', help: 'Requests in flight' },
  items: { type: 'string', short: 'k', value: 'K', default: '8', help: 'Traces per request' },
  steps: { type: 'string', value: 'S', default: '4', help: 'Steps per trace (S−1 operations, then the answer)' },
  warmup: { type: 'string', value: 'W', default: '2', help: 'Requests sent first and not measured' },
  seed: { type: 'string', value: 'N', help: 'Seed of the synthetic traces (default: a new one per run)' },
  cached: { type: 'boolean', help: 'Send the same traces every time (measures cache hits)' },
  'token-rewards': { type: 'boolean', help: 'Ask for per-token rewards too' },
  json: { type: 'boolean', help: 'Print the summary as one JSON object' },
  ...HELP_OPTION,
};

const HELP = helpText(
  ['prm bench [options]'],
  `Measures a running service: sends --requests scoring requests, --concurrency at a time, and
prints requests/s, traces/s, tokens/s (prompt + response tokens the service reports) and
latency percentiles. Exit status 1 if any request failed.`,
  OPTIONS,
);

const rng = seededRandom;

/** A correct solution of a random chain like 48+27-19*3, in the arithmetic domain's format. */
export function syntheticTrace(rand: () => number, steps: number): ScoreItem {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  let v = int(10, 99);
  let problem = String(v);
  const lines: string[] = [];
  for (let i = 0; i < Math.max(0, steps - 1); i++) {
    // Keep every value in 0..999 like the trainer's problems.
    const ops = ['+', '-', '*'].filter((op) => (op === '-' ? v >= 2 : op === '*' ? v * 2 <= 999 : v + 2 <= 999));
    const op = ops[int(0, ops.length - 1)]!;
    const b = op === '*' ? int(2, Math.min(9, Math.floor(999 / v))) : op === '-' ? int(1, Math.min(v, 99)) : int(1, Math.min(99, 999 - v));
    const w = op === '+' ? v + b : op === '-' ? v - b : v * b;
    lines.push(`${v}${op}${b}=${w}`);
    problem += `${op}${b}`;
    v = w;
  }
  lines.push(`Answer: ${v}`);
  return { prompt: problem, steps: lines };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface BenchPlan {
  client: PrmClient;
  options: { model: string; token_rewards?: boolean };
  requests: number;
  concurrency: number;
  itemsPer: number;
  steps: number;
  warmup: number;
  /** The traces of the next request: the same ones with --cached, fresh ones otherwise. */
  batch(): ScoreItem[];
}

interface Tally {
  latencies: number[];
  errors: Map<string, number>;
  tokens: number;
  cachedTokens: number;
  secs: number;
}

export async function benchCommand(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(argv, OPTIONS, 0, HELP);
  if (parsed === null) return 0;
  const { values } = parsed;
  const plan = await planOf(values);
  for (let i = 0; i < plan.warmup; i++) await plan.client.score(plan.batch(), plan.options);
  const tally = await runRequests(plan);
  const summary = summaryOf(plan, tally);
  process.stdout.write(values.json ? `${JSON.stringify(summary)}\n` : summaryText(plan, summary, tally.errors));
  return tally.errors.size > 0 ? 1 : 0;
}

async function planOf(values: Parsed['values']): Promise<BenchPlan> {
  const requests = int(values, 'requests', 1);
  const concurrency = int(values, 'concurrency', 1);
  const itemsPer = int(values, 'items', 1);
  const steps = int(values, 'steps', 1);
  const warmup = int(values, 'warmup', 0);
  const seed = str(values, 'seed') !== undefined ? int(values, 'seed', 0) : Date.now() % 2 ** 31;
  const key = apiKey(values);
  const client = new PrmClient({ baseUrl: str(values, 'url')!, maxRetries: 0, ...(key ? { apiKey: key } : {}) });
  const modelName = await checkService(client, str(values, 'model'));
  const rand = rng(seed);
  const fixed = Array.from({ length: itemsPer }, () => syntheticTrace(rand, steps));
  return {
    client,
    options: { model: modelName, ...(values['token-rewards'] ? { token_rewards: true } : {}) },
    requests,
    concurrency,
    itemsPer,
    steps,
    warmup,
    batch: () => (values.cached ? fixed : Array.from({ length: itemsPer }, () => syntheticTrace(rand, steps))),
  };
}

/** `concurrency` closed loops sending the plan's requests; latencies come back sorted. */
async function runRequests(plan: BenchPlan): Promise<Tally> {
  const t: Tally = { latencies: [], errors: new Map(), tokens: 0, cachedTokens: 0, secs: 0 };
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < plan.requests) {
      next++;
      const t0 = performance.now();
      try {
        const res = await plan.client.score(plan.batch(), plan.options);
        t.latencies.push(performance.now() - t0);
        t.tokens += res.usage.prompt_tokens + res.usage.response_tokens;
        t.cachedTokens += res.usage.cached_tokens;
      } catch (err) {
        const code = err instanceof PrmApiError ? err.code : 'ERROR';
        t.errors.set(code, (t.errors.get(code) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(plan.concurrency, plan.requests) }, worker));
  t.secs = (performance.now() - started) / 1000;
  t.latencies.sort((a, b) => a - b);
  return t;
}

function summaryOf(plan: BenchPlan, t: Tally) {
  const { latencies, secs } = t;
  return {
    model: plan.options.model,
    requests: plan.requests,
    concurrency: plan.concurrency,
    items_per_request: plan.itemsPer,
    steps_per_trace: plan.steps,
    ok: latencies.length,
    failed: Object.fromEntries(t.errors),
    seconds: round(secs),
    requests_per_s: round(latencies.length / secs),
    traces_per_s: round((latencies.length * plan.itemsPer) / secs),
    tokens_per_s: round(t.tokens / secs),
    cached_token_fraction: t.tokens > 0 ? round(t.cachedTokens / t.tokens) : 0,
    latency_ms: {
      p50: round(percentile(latencies, 50)),
      p90: round(percentile(latencies, 90)),
      p99: round(percentile(latencies, 99)),
      max: round(latencies[latencies.length - 1] ?? NaN),
    },
  };
}

function summaryText(plan: BenchPlan, summary: ReturnType<typeof summaryOf>, errors: Map<string, number>): string {
  const l = summary.latency_ms;
  const failed = errors.size > 0 ? [...errors].map(([c, n]) => `${n} ${c}`).join(', ') : '0';
  return [
    `model ${summary.model}: ${plan.requests} requests × ${plan.itemsPer} traces × ${plan.steps} steps, concurrency ${plan.concurrency}`,
    `  ok ${summary.ok}, failed ${failed}, ${summary.seconds} s`,
    `  ${summary.requests_per_s} requests/s, ${summary.traces_per_s} traces/s, ${summary.tokens_per_s} tokens/s (cached ${(summary.cached_token_fraction * 100).toFixed(0)}%)`,
    `  latency ms: p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  max ${l.max}`,
    '',
  ].join('\n');
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
