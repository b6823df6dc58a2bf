/**
 * Every workload on one model: PyTorch first (rl set, all tree rounds), then the service with a
 * fresh server per pass: rl at each concurrency (dup re-scores the rl set on the last of those
 * servers), tree, and batching efficiency with caches off. Cross-checks the service's rewards
 * against PyTorch's on every item both scored.
 */
import type { BenchArgs } from './args.js';
import type { PreparedBundle } from './bundles.js';
import { crossCheck, emptyCheck, type CrossCheck } from './crosscheck.js';
import { flopsPerToken, readBundle, sequenceFlops, type BundleFacts } from './flops.js';
import {
  batchingEfficiency, measurePass, rlRequests, treePhases, treeServerEnv, withServer, type BatchingReport, type PassOutcome, type PassReport,
} from './service-side.js';
import { quantile } from './http-load.js';
import type { ServerOptions } from './server-process.js';
import { torchScore, type TorchRun } from './torch-side.js';
import { treeStats, workloadStats, type TreeStats, type WorkloadStats } from './workload-stats.js';
import { promptTokens, responseTokens, rlItems, treeTraces, type Item } from './workloads.js';

export interface SideFigures {
  tokens_per_s: number;
  seconds: number;
  /** Model FLOPs actually executed per second (see flops.ts), and that over the matmul peak. */
  achieved_flops: number;
  peak_fraction: number;
  peak_rss_bytes: number;
}

export interface WorkloadReport {
  items: number;
  response_tokens: number;
  service: PassReport & { achieved_flops: number | null; peak_fraction: number | null; peak_rss_bytes: number };
  torch: (SideFigures & { process_seconds: number; items: number }) | null;
  ratio_vs_torch: number | null;
  rss_ratio_vs_torch: number | null;
  flops_ratio_vs_torch: number | null;
}

export interface ModelReport {
  key: string;
  name: string;
  source: string;
  note: string | null;
  bundle: { params: number; matmul_params: number; models: number; max_sequence_length: number; flops_per_token: number; mean_sequence_tokens: number };
  rl: WorkloadReport & { by_concurrency: PassReport[]; stats: WorkloadStats };
  dup: { service: PassReport; cache_hit_speedup: number; cached_p50_ms: number | null; ratio_vs_torch: number | null };
  tree: WorkloadReport & { rounds: number; kv_cache_max_bytes: number; stats: TreeStats };
  batching: BatchingReport;
  crosscheck: CrossCheck | null;
}

const seqLen = (b: BundleFacts, it: Item) => promptTokens(b.template, it.prompt) + responseTokens(it.steps);

function torchFigures(run: TorchRun, items: Item[], b: BundleFacts, peak: number) {
  const tokens = items.reduce((n, it) => n + responseTokens(it.steps), 0);
  const flops = sequenceFlops(b, items.map((it) => seqLen(b, it))) / run.seconds;
  return {
    tokens_per_s: tokens / run.seconds,
    seconds: run.seconds,
    process_seconds: run.processSeconds,
    achieved_flops: flops,
    peak_fraction: flops / peak,
    peak_rss_bytes: run.peakRssBytes,
  };
}

/**
 * Executed FLOPs of a pass: tokens the engine computed × FLOPs per token at the mean length (null
 * when the engine counters are missing, rather than a misleading zero).
 */
function serviceFlops(p: PassReport, b: BundleFacts, meanLen: number, peak: number) {
  if (p.engine_padded_tokens === 0 && p.cached_tokens < p.response_tokens) return { achieved_flops: null, peak_fraction: null };
  const f = (p.engine_real_tokens * flopsPerToken(b, meanLen)) / p.wall_s;
  return { achieved_flops: f, peak_fraction: f / peak };
}

function workload(items: Item[], service: WorkloadReport['service'], torch: WorkloadReport['torch']): WorkloadReport {
  return {
    items: items.length,
    response_tokens: items.reduce((n, it) => n + responseTokens(it.steps), 0),
    service,
    torch,
    ratio_vs_torch: torch ? service.tokens_per_s / torch.tokens_per_s : null,
    rss_ratio_vs_torch: torch && torch.peak_rss_bytes > 0 ? service.peak_rss_bytes / torch.peak_rss_bytes : null,
    flops_ratio_vs_torch: torch && service.achieved_flops !== null ? service.achieved_flops / torch.achieved_flops : null,
  };
}

/** The seeded inputs of every workload for one bundle (bench/tree-pass.ts runs the same tree). */
export function workloadInputs(b: BundleFacts, args: BenchArgs) {
  const ctx = { template: b.template, maxSequence: b.maxSequence };
  const traces = treeTraces(args.seed + 1000, args.treeTraces, ctx);
  return {
    rl: rlItems(args.seed, args.rlPrompts, args.rollouts, ctx),
    traces,
    tree: treePhases(traces, args.treePerRequest),
    batchItems: rlItems(args.seed + 2000, args.batchingItems, 1, ctx),
    /** Unrelated text each fresh server is warmed up on. */
    warm: rlItems(args.seed + 3000, 2, 2, ctx),
  };
}

export async function runModel(p: PreparedBundle, args: BenchArgs, repoRoot: string, workDir: string, peakFlops: number, log: (s: string) => void): Promise<ModelReport> {
  const b = readBundle(p.bundleDir);
  const { rl, traces, tree, batchItems, warm } = workloadInputs(b, args);
  const treeItems = [...tree.partials, ...tree.finals];
  const torchRlItems = args.torchRlPrompts > 0 ? rl.slice(0, args.torchRlPrompts * args.rollouts) : rl;
  const meanLen = rl.reduce((n, it) => n + seqLen(b, it), 0) / rl.length;
  const server: ServerOptions = { repoRoot, modelsDir: p.modelsDir, threads: args.threads, env: args.serverEnv };

  let torchRl: TorchRun | null = null;
  let torchTree: TorchRun | null = null;
  if (!args.skipTorch) {
    const t = { repoRoot, bundleDir: p.bundleDir, workDir, threads: args.threads, batchSize: args.torchBatchSize, checkpoints: p.checkpoints };
    log(`  torch rl: ${torchRlItems.length} items`);
    torchRl = await torchScore({ ...t, name: `${p.key}-rl` }, torchRlItems);
    log(`  torch tree: ${treeItems.length} items over ${tree.phases.length} rounds`);
    const partialIds = new Set(tree.partials.map((it) => it.id));
    torchTree = await torchScore({ ...t, name: `${p.key}-tree` }, treeItems.map((it) => (partialIds.has(it.id) ? { ...it, partial: true } : it)));
  }

  const cMax = args.concurrency[args.concurrency.length - 1];
  const byConcurrency: PassReport[] = [];
  let first: PassOutcome | null = null;
  let dupPass: PassOutcome | null = null;
  let rlRss = 0;
  for (const c of args.concurrency) {
    // passes below the highest concurrency measure latency; a subset keeps --quick quick
    const subset = c === cMax || args.latencyPrompts === 0 ? rl : rl.slice(0, args.latencyPrompts * args.rollouts);
    log(`  service rl: ${subset.length} items at concurrency ${c}`);
    const out = await withServer(server, warm, async (s) => {
      const pass = await measurePass(s, `rl c=${c}`, c, [rlRequests(subset, args.rlPerRequest)]);
      const dup = c === cMax ? await measurePass(s, `dup c=${c}`, c, [rlRequests(subset, args.rlPerRequest)]) : null;
      return { pass, dup };
    });
    byConcurrency.push(out.pass.report);
    if (c === cMax) {
      first = out.pass;
      dupPass = out.dup;
      rlRss = out.peak_rss_bytes;
    }
  }
  if (!first || !dupPass) throw new Error('no rl pass at the highest concurrency');

  log(`  service tree: ${traces.length} traces, ${tree.phases.length} rounds`);
  const treeEnv = treeServerEnv(b, traces, args.serverEnv);
  const treeOut = await withServer({ ...server, env: treeEnv }, warm, (s) => measurePass(s, 'tree', args.treePerRequest, tree.phases));
  log(`  service batching: ${batchItems.length} items × ${args.batchingRepeats}`);
  const batching = await withServer({ ...server, env: { ...server.env, CACHE_MAX_BYTES: '0', KV_CACHE_MAX_BYTES: '0' } }, warm,
    async (s) => ({ report: await batchingEfficiency(s, batchItems, args.batchingRepeats) }));

  let check: CrossCheck | null = null;
  if (torchRl && torchTree) {
    check = emptyCheck();
    crossCheck(first.results, torchRl.results, check);
    crossCheck(dupPass.results, torchRl.results, check);
    // finished traces only: whether the scorer reads `partial` is its own business
    const finalIds = new Set(tree.finals.map((it) => it.id));
    crossCheck(treeOut.results.filter((r) => finalIds.has(r.id)), torchTree.results, check);
  }

  const rlService = { ...first.report, ...serviceFlops(first.report, b, meanLen, peakFlops), peak_rss_bytes: rlRss };
  const treeService = { ...treeOut.report, ...serviceFlops(treeOut.report, b, meanLen, peakFlops), peak_rss_bytes: treeOut.peak_rss_bytes };
  const dupReport = dupPass.report;
  const rlTorch = torchRl ? { items: torchRlItems.length, ...torchFigures(torchRl, torchRlItems, b, peakFlops) } : null;
  return {
    key: p.key,
    name: b.name,
    source: p.source,
    note: p.note,
    bundle: {
      params: b.params,
      matmul_params: b.matmulParams,
      models: b.models,
      max_sequence_length: b.maxSequence,
      flops_per_token: flopsPerToken(b, meanLen),
      mean_sequence_tokens: meanLen,
    },
    rl: { ...workload(rl, rlService, rlTorch), by_concurrency: byConcurrency, stats: workloadStats(rl, b.template, args.torchBatchSize) },
    dup: {
      service: dupReport,
      cache_hit_speedup: dupReport.tokens_per_s / rlService.tokens_per_s,
      cached_p50_ms: dupPass.fullyCachedServerMs.length > 0 ? quantile(dupPass.fullyCachedServerMs, 0.5) : null,
      ratio_vs_torch: rlTorch ? dupReport.tokens_per_s / rlTorch.tokens_per_s : null,
    },
    tree: {
      ...workload(treeItems, treeService, torchTree ? { items: treeItems.length, ...torchFigures(torchTree, treeItems, b, peakFlops) } : null),
      rounds: tree.phases.length,
      kv_cache_max_bytes: Number(treeEnv.KV_CACHE_MAX_BYTES),
      stats: treeStats(treeItems, traces, b.template, args.torchBatchSize),
    },
    batching: batching.report,
    crosscheck: check,
  };
}
