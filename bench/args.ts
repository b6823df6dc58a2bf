/**
 * Command line of `npm run bench`. Two presets: the full run described in the issue, and `--quick`
 * (smaller counts, same shapes) that finishes in minutes; any count can still be overridden.
 */

import { HELP_OPTION, helpText, int, parse, str, type OptionTable, type Parsed } from '../src/cli/args.js';
import { ALLOCATOR_MODES, type AllocatorMode } from './allocator.js';

export const MODEL_KEYS = ['arith-tiny', 'random-30m'] as const;
export type ModelKey = (typeof MODEL_KEYS)[number];

export interface BenchArgs {
  quick: boolean;
  out: string;
  markdown: string | null;
  models: ModelKey[];
  skipTorch: boolean;
  threads: number;
  /** C allocator settings for both sides (bench/allocator.ts). */
  allocator: AllocatorMode;
  seed: number;
  /** rl: prompts × rollouts, rollouts per request, and the concurrency levels to run. */
  rlPrompts: number;
  rollouts: number;
  rlPerRequest: number;
  concurrency: number[];
  /** Prompts used by the passes below the highest concurrency (latency figures); 0 = all. */
  latencyPrompts: number;
  treeTraces: number;
  treePerRequest: number;
  batchingItems: number;
  batchingRepeats: number;
  torchBatchSize: number;
  /** PyTorch scores the rollouts of the first N rl prompts (tokens/s is a rate); 0 = all. */
  torchRlPrompts: number;
  randomParams: string;
  /** Extra server environment, KEY=VALUE (repeatable), for optimisation experiments. */
  serverEnv: Record<string, string>;
}

/** Every option once: parsing and `--help` come from this table (src/cli/args.ts). */
const OPTIONS: OptionTable = {
  quick: { type: 'boolean', help: 'Smaller counts (rl 8 prompts × 8 at the top concurrency and 2 below, tree 8 traces, PyTorch on 4 of the rl prompts, one batching repeat); < 10 minutes' },
  out: { type: 'string', value: 'FILE', help: 'JSON report (default bench/report.json, quick: bench/report-quick.json)' },
  md: { type: 'string', value: 'FILE', help: 'Markdown report (default bench/REPORT.md; quick: beside --out, .md)' },
  models: { type: 'string', value: 'a,b', help: `Of ${MODEL_KEYS.join(', ')} (default: both)` },
  'skip-torch': { type: 'boolean', help: 'Service only: no PyTorch run, no ratios, no cross-check' },
  threads: { type: 'string', value: 'N', help: 'Threads for both sides (default 2)' },
  allocator: { type: 'string', value: 'MODE', help: 'keep|default: glibc malloc settings for both sides (default keep: freed memory is reused instead of returned to the kernel; see bench/allocator.ts)' },
  seed: { type: 'string', value: 'N', help: 'Workload seed (default 1)' },
  'rl-prompts': { type: 'string', value: 'N', help: 'rl prompts (full 64, quick 8)' },
  rollouts: { type: 'string', value: 'N', help: 'Rollouts per rl prompt (default 8)' },
  'rl-per-request': { type: 'string', value: 'N', help: 'rl items per request (default 8)' },
  concurrency: { type: 'string', value: '1,8,32', help: 'rl concurrency levels (default 1,8,32)' },
  'latency-prompts': { type: 'string', value: 'N', help: 'Prompts for the passes below the top concurrency (full 16, quick 2; 0 = all)' },
  'tree-traces': { type: 'string', value: 'N', help: 'Tree traces (full 64, quick 8)' },
  'tree-per-request': { type: 'string', value: 'N', help: 'Tree items per request (default 8)' },
  'batching-items': { type: 'string', value: 'N', help: 'Items of the batching check (default 32)' },
  'batching-repeats': { type: 'string', value: 'N', help: 'Repeats of the batching check (full 4, quick 1)' },
  'torch-batch-size': { type: 'string', value: 'N', help: 'PyTorch scorer batch (default 8)' },
  'torch-rl-prompts': { type: 'string', value: 'N', help: "PyTorch scores the first N rl prompts' rollouts (default all; quick 4)" },
  'random-params': { type: 'string', value: '30M', help: 'Size of the random bundle' },
  'server-env': { type: 'string', value: 'KEY=VALUE', help: 'Extra service setting (repeatable)' },
  ...HELP_OPTION,
};

const USAGE = helpText(['npm run bench -- [options]'], 'The service against the PyTorch reference scorer (bench/NOTES.md).', OPTIONS);

function intList(v: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`not a list of positive integers: ${v}`);
  return xs;
}

/** The defaults of a run: the full one, or `--quick`'s smaller counts of the same shapes. */
function defaults(quick: boolean): BenchArgs {
  return {
    quick,
    out: quick ? 'bench/report-quick.json' : 'bench/report.json',
    markdown: null,
    models: [...MODEL_KEYS],
    skipTorch: false,
    threads: 2,
    allocator: 'keep',
    seed: 1,
    rlPrompts: quick ? 8 : 64,
    rollouts: 8,
    rlPerRequest: 8,
    concurrency: [1, 8, 32],
    latencyPrompts: quick ? 2 : 16,
    treeTraces: quick ? 8 : 64,
    treePerRequest: 8,
    batchingItems: 32,
    batchingRepeats: quick ? 1 : 4,
    torchBatchSize: 8,
    torchRlPrompts: quick ? 4 : 0,
    randomParams: '30M',
    serverEnv: {},
  };
}

/** Numeric options: flag → the field it sets. */
const COUNTS = {
  threads: 'threads', seed: 'seed', 'rl-prompts': 'rlPrompts', rollouts: 'rollouts', 'rl-per-request': 'rlPerRequest',
  'latency-prompts': 'latencyPrompts', 'tree-traces': 'treeTraces', 'tree-per-request': 'treePerRequest',
  'batching-items': 'batchingItems', 'batching-repeats': 'batchingRepeats', 'torch-batch-size': 'torchBatchSize',
  'torch-rl-prompts': 'torchRlPrompts',
} as const satisfies Record<string, keyof BenchArgs>;

export function parseArgs(argv: string[]): BenchArgs {
  // --server-env repeats; node:util keeps only the last of a repeated string option.
  const serverEnv = argv.flatMap((flag, i) => (flag === '--server-env' ? [argv[i + 1] ?? ''] : []));
  let parsed: Parsed;
  try {
    parsed = parse(argv, OPTIONS, 0);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const a = defaults(values.quick === true);
  a.skipTorch = values['skip-torch'] === true;
  a.out = str(values, 'out') ?? a.out;
  a.markdown = str(values, 'md') ?? null;
  setModels(a, str(values, 'models'));
  setAllocator(a, str(values, 'allocator'));
  for (const [flag, field] of Object.entries(COUNTS)) if (str(values, flag) !== undefined) a[field] = count(values, flag);
  const levels = str(values, 'concurrency');
  if (levels !== undefined) a.concurrency = intList(levels).sort((x, y) => x - y);
  a.randomParams = str(values, 'random-params') ?? a.randomParams;
  for (const kv of serverEnv) setServerEnv(a, kv);
  if (a.threads < 1 || a.rlPrompts < 1 || a.rollouts < 1 || a.treeTraces < 1 || a.batchingItems < 1) {
    throw new Error(`counts and --threads must be at least 1\n${USAGE}`);
  }
  a.markdown ??= a.quick || a.out !== 'bench/report.json' ? a.out.replace(/\.json$/, '') + '.md' : 'bench/REPORT.md';
  return a;
}

function count(values: Parsed['values'], flag: string): number {
  try {
    return int(values, flag, 0);
  } catch {
    throw new Error(`--${flag} needs a non-negative integer\n${USAGE}`);
  }
}

function setModels(a: BenchArgs, list: string | undefined): void {
  if (list === undefined) return;
  const ms = list.split(',').map((s) => s.trim());
  for (const m of ms) if (!(MODEL_KEYS as readonly string[]).includes(m)) throw new Error(`unknown model ${m}\n${USAGE}`);
  a.models = ms as ModelKey[];
}

function setAllocator(a: BenchArgs, mode: string | undefined): void {
  if (mode === undefined) return;
  if (!(ALLOCATOR_MODES as readonly string[]).includes(mode)) throw new Error(`--allocator is one of ${ALLOCATOR_MODES.join(', ')}\n${USAGE}`);
  a.allocator = mode as AllocatorMode;
}

function setServerEnv(a: BenchArgs, kv: string): void {
  const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(kv);
  if (!m) throw new Error(`--server-env needs KEY=VALUE\n${USAGE}`);
  a.serverEnv[m[1]] = m[2];
}
