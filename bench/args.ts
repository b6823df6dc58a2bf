/**
 * Command line of `npm run bench`. Two presets: the full run described in the issue, and `--quick`
 * (smaller counts, same shapes) that finishes in minutes; any count can still be overridden.
 */

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

const USAGE = `npm run bench -- [options]
  --quick                 smaller counts (rl 8 prompts × 8 at the top concurrency and 2 below,
                          tree 8 traces, PyTorch on 4 of the rl prompts, one batching repeat);
                          < 10 minutes
  --out FILE              JSON report (default bench/report.json, quick: bench/report-quick.json)
  --md FILE               Markdown report (default bench/REPORT.md; quick: beside --out, .md)
  --models a,b            of ${MODEL_KEYS.join(', ')} (default: both)
  --skip-torch            service only: no PyTorch run, no ratios, no cross-check
  --threads N             threads for both sides (default 2)
  --allocator keep|default  glibc malloc settings for both sides (default keep: freed memory is
                          reused instead of returned to the kernel; see bench/allocator.ts)
  --seed N                workload seed (default 1)
  --rl-prompts N --rollouts N --rl-per-request N --concurrency 1,8,32
  --latency-prompts N      prompts for the passes below the top concurrency (full 16, quick 2; 0 = all)
  --tree-traces N --tree-per-request N --batching-items N --batching-repeats N
  --torch-batch-size N    PyTorch scorer batch (default 8)
  --torch-rl-prompts N    PyTorch scores the first N rl prompts' rollouts (default all; quick 4)
  --random-params 30M     size of the random bundle
  --server-env KEY=VALUE  extra service setting (repeatable)`;

function intList(v: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`not a list of positive integers: ${v}`);
  return xs;
}

export function parseArgs(argv: string[]): BenchArgs {
  const quick = argv.includes('--quick');
  const a: BenchArgs = {
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
  const num = (v: string, name: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} needs a non-negative integer\n${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const v = argv[i + 1];
    const take = (): string => {
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      i++;
      return v;
    };
    switch (flag) {
      case '--quick': break;
      case '--skip-torch': a.skipTorch = true; break;
      case '--out': a.out = take(); break;
      case '--md': a.markdown = take(); break;
      case '--models': {
        const ms = take().split(',').map((s) => s.trim());
        for (const m of ms) if (!(MODEL_KEYS as readonly string[]).includes(m)) throw new Error(`unknown model ${m}\n${USAGE}`);
        a.models = ms as ModelKey[];
        break;
      }
      case '--threads': a.threads = num(take(), flag); break;
      case '--allocator': {
        const m = take();
        if (!(ALLOCATOR_MODES as readonly string[]).includes(m)) throw new Error(`--allocator is one of ${ALLOCATOR_MODES.join(', ')}\n${USAGE}`);
        a.allocator = m as AllocatorMode;
        break;
      }
      case '--seed': a.seed = num(take(), flag); break;
      case '--rl-prompts': a.rlPrompts = num(take(), flag); break;
      case '--rollouts': a.rollouts = num(take(), flag); break;
      case '--rl-per-request': a.rlPerRequest = num(take(), flag); break;
      case '--concurrency': a.concurrency = intList(take()).sort((x, y) => x - y); break;
      case '--latency-prompts': a.latencyPrompts = num(take(), flag); break;
      case '--tree-traces': a.treeTraces = num(take(), flag); break;
      case '--tree-per-request': a.treePerRequest = num(take(), flag); break;
      case '--batching-items': a.batchingItems = num(take(), flag); break;
      case '--batching-repeats': a.batchingRepeats = num(take(), flag); break;
      case '--torch-batch-size': a.torchBatchSize = num(take(), flag); break;
      case '--torch-rl-prompts': a.torchRlPrompts = num(take(), flag); break;
      case '--random-params': a.randomParams = take(); break;
      case '--server-env': {
        const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(take() ?? '');
        if (!m) throw new Error(`--server-env needs KEY=VALUE\n${USAGE}`);
        a.serverEnv[m[1]] = m[2];
        break;
      }
      case '--help': case '-h': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  if (a.threads < 1 || a.rlPrompts < 1 || a.rollouts < 1 || a.treeTraces < 1 || a.batchingItems < 1) {
    throw new Error(`counts and --threads must be at least 1\n${USAGE}`);
  }
  a.markdown ??= quick || a.out !== 'bench/report.json' ? a.out.replace(/\.json$/, '') + '.md' : 'bench/REPORT.md';
  return a;
}
