/**
 * The report: one JSON document (shape documented in bench/NOTES.md) whose top-level keys are the
 * headline figures of the headline model (the larger one when it ran), with every model's details
 * under `models`; and a Markdown rendering of the same numbers.
 */
import type { BenchArgs } from './args.js';
import type { CrossCheck } from './crosscheck.js';
import type { ModelReport } from './model-run.js';

export interface Machine {
  cpus: number;
  cpu_model: string;
  /**
   * The CPU's vector extensions that decide matmul speed (avx2, fma, avx512f, avx512_vnni, ...):
   * the ratios to PyTorch depend on them, because onnxruntime and PyTorch's BLAS use them differently.
   */
  cpu_features: string[];
  load_avg_at_start: number[];
  node: string;
  torch: string | null;
  threads: number;
  /** `--allocator` and the MALLOC_* variables both sides' processes were started with. */
  allocator: { mode: string; env: Record<string, string> };
}

export interface MatmulPeakReport {
  size: number;
  torch_flops: number;
  onnxruntime_flops: number;
  /** `threads` one-thread sessions side by side, as the service runs a policy and its reference. */
  onnxruntime_side_by_side_flops: number;
  /** The largest of the three: the yardstick both sides' achieved FLOP/s are divided by. */
  peak_flops: number;
}

interface Target {
  name: string;
  value: number | null;
  target: string;
  met: boolean | null;
}

export interface BenchReport {
  schema: 'implicit-prm-bench/1';
  mode: 'quick' | 'full';
  created_at: string;
  duration_s: number;
  machine: Machine;
  args: BenchArgs;
  headline_model: string;
  rl: { ratio_vs_torch: number | null; tokens_per_s: number; torch_tokens_per_s: number | null };
  tree: { ratio_vs_torch: number | null; tokens_per_s: number; torch_tokens_per_s: number | null };
  dup: { tokens_per_s: number; ratio_vs_torch: number | null };
  batching_efficiency: number;
  cached_p50_ms: number | null;
  padding_waste: number | null;
  cache_hit_speedup: number;
  matmul_peak: MatmulPeakReport;
  crosscheck: CrossCheck | null;
  targets: Target[];
  models: Record<string, ModelReport>;
}

function target(name: string, value: number | null, op: '>=' | '<=', bound: number): Target {
  return { name, value, target: `${op} ${bound}`, met: value === null ? null : op === '>=' ? value >= bound : value <= bound };
}

/** Merges the per-model cross-checks: worst difference over all of them. */
function mergeChecks(models: ModelReport[]): CrossCheck | null {
  const checks = models.map((m) => m.crosscheck).filter((c): c is CrossCheck => c !== null);
  if (checks.length === 0) return null;
  const worst = checks.reduce((a, c) => (c.max_abs_diff > a.max_abs_diff ? c : a));
  return {
    ...worst,
    items: checks.reduce((n, c) => n + c.items, 0),
    steps: checks.reduce((n, c) => n + c.steps, 0),
    ok: checks.every((c) => c.ok),
  };
}

export function buildReport(args: BenchArgs, machine: Machine, peak: MatmulPeakReport, models: ModelReport[], startedAt: Date): BenchReport {
  const head = models.find((m) => m.key === 'random-30m') ?? models[0];
  const report: BenchReport = {
    schema: 'implicit-prm-bench/1',
    mode: args.quick ? 'quick' : 'full',
    created_at: startedAt.toISOString(),
    duration_s: (Date.now() - startedAt.getTime()) / 1000,
    machine,
    args,
    headline_model: head.key,
    rl: { ratio_vs_torch: head.rl.ratio_vs_torch, tokens_per_s: head.rl.service.tokens_per_s, torch_tokens_per_s: head.rl.torch?.tokens_per_s ?? null },
    tree: { ratio_vs_torch: head.tree.ratio_vs_torch, tokens_per_s: head.tree.service.tokens_per_s, torch_tokens_per_s: head.tree.torch?.tokens_per_s ?? null },
    dup: { tokens_per_s: head.dup.service.tokens_per_s, ratio_vs_torch: head.dup.ratio_vs_torch },
    batching_efficiency: head.batching.efficiency,
    cached_p50_ms: head.dup.cached_p50_ms,
    padding_waste: head.rl.service.padding_waste,
    cache_hit_speedup: head.dup.cache_hit_speedup,
    matmul_peak: peak,
    crosscheck: mergeChecks(models),
    targets: [],
    models: Object.fromEntries(models.map((m) => [m.key, m])),
  };
  report.targets = [
    target('rl.ratio_vs_torch', report.rl.ratio_vs_torch, '>=', 3),
    target('tree.ratio_vs_torch', report.tree.ratio_vs_torch, '>=', 10),
    target('batching_efficiency', report.batching_efficiency, '>=', 0.8),
    target('cached_p50_ms', report.cached_p50_ms, '<=', 2),
    target('padding_waste', report.padding_waste, '<=', 0.1),
  ];
  return report;
}

const f = (x: number | null | undefined, digits = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const pct = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(100 * x).toFixed(1)}%`);
const mib = (x: number | null | undefined) => (x ? `${(x / 2 ** 20).toFixed(0)} MiB` : '–');
const gflops = (x: number | null | undefined) => (x ? `${(x / 1e9).toFixed(1)}` : '–');

function modelSection(m: ModelReport): string {
  const lines: string[] = [];
  lines.push(`## ${m.key} (${m.name}, ${(m.bundle.params / 1e6).toPrecision(3)}M parameters × ${m.bundle.models} models)`, '');
  if (m.note) lines.push(`> ${m.note}`, '');
  lines.push(`Source: ${m.source}. Mean sequence ${f(m.bundle.mean_sequence_tokens, 0)} tokens, ` +
    `${(m.bundle.flops_per_token / 1e6).toFixed(1)} MFLOP per token (all models).`, '');
  lines.push('| workload | items | response tokens | service tok/s | PyTorch tok/s | ratio | padding waste | service RSS | PyTorch RSS | service GFLOP/s (of peak) | PyTorch GFLOP/s (of peak) |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [name, w] of [['rl', m.rl], ['tree', m.tree]] as const) {
    lines.push(`| ${name} | ${w.items} | ${w.response_tokens} | ${f(w.service.tokens_per_s)} | ${f(w.torch?.tokens_per_s)} | ${f(w.ratio_vs_torch, 2)}× | ` +
      `${pct(w.service.padding_waste)} | ${mib(w.service.peak_rss_bytes)} | ${mib(w.torch?.peak_rss_bytes)} | ` +
      `${gflops(w.service.achieved_flops)} (${pct(w.service.peak_fraction)}) | ${gflops(w.torch?.achieved_flops)} (${pct(w.torch?.peak_fraction)}) |`);
  }
  lines.push(`| dup | ${m.dup.service.items} | ${m.dup.service.response_tokens} | ${f(m.dup.service.tokens_per_s)} | ${f(m.rl.torch?.tokens_per_s)} | ${f(m.dup.ratio_vs_torch, 2)}× | – | – | – | – | – |`, '');
  if (m.rl.torch && m.rl.torch.items !== m.rl.items) lines.push(`PyTorch rl figures from the first ${m.rl.torch.items} of the ${m.rl.items} rl items (tokens/s is a rate).`, '');
  lines.push('| pass | concurrency | requests | tok/s | p50 ms | p99 ms | server p50 ms | padding waste | forward passes (mean rows) |',
    '|---|---|---|---|---|---|---|---|---|');
  for (const p of [...m.rl.by_concurrency, m.dup.service, m.tree.service]) {
    lines.push(`| ${p.label} | ${p.concurrency} | ${p.requests} | ${f(p.tokens_per_s)} | ${f(p.latency_ms.p50)} | ${f(p.latency_ms.p99)} | ` +
      `${f(p.server_total_ms.p50, 2)} | ${pct(p.padding_waste)} | ${p.engine_batches} (${f(p.mean_batch_rows)}) |`);
  }
  lines.push('');
  const rs = m.rl.stats;
  const ts = m.tree.stats;
  lines.push(`Workloads: rl ${rs.items} items, ${rs.steps.min}–${rs.steps.max} steps, ${rs.response_tokens.min}–${rs.response_tokens.max} response tokens ` +
    `(mean ${f(rs.response_tokens.mean, 0)}); PyTorch batches pad ${pct(rs.torch_padding_waste)}; shared prompts save ×${f(rs.prompt_share_factor, 2)}. ` +
    `Tree: ${ts.items} scored prefixes, prefix reuse bound ×${f(ts.prefix_reuse_factor, 2)}.`);
  lines.push(`Cache-hit speedup (dup over first rl pass): ${f(m.dup.cache_hit_speedup, 2)}×; fully cached request, server p50: ${f(m.dup.cached_p50_ms, 3)} ms. ` +
    `Tree: ${m.tree.rounds} rounds, ${m.tree.service.cached_tokens} of ${m.tree.service.response_tokens} response tokens from cache ` +
    `(tier 2 sized for the traces: KV_CACHE_MAX_BYTES=${m.tree.kv_cache_max_bytes}).`);
  lines.push(`Batching efficiency: ${m.batching.items} concurrent one-item requests ${f(m.batching.concurrent_tokens_per_s)} tok/s vs one ` +
    `${m.batching.items}-item request ${f(m.batching.one_request_tokens_per_s)} tok/s → ${f(m.batching.efficiency, 2)} (caches off, median of ${m.batching.repeats}; ` +
    `${f(m.batching.concurrent_batches)} vs ${f(m.batching.one_request_batches)} forward passes).`);
  if (m.crosscheck) lines.push(`Cross-check: ${m.crosscheck.items} items, ${m.crosscheck.steps} steps, max |Δ| = ${m.crosscheck.max_abs_diff.toExponential(2)} (${m.crosscheck.ok ? 'ok' : 'FAILED'}).`);
  lines.push('');
  return lines.join('\n');
}

export function renderMarkdown(r: BenchReport, command: string): string {
  const lines: string[] = [];
  lines.push(`# implicit-prm benchmark (${r.mode})`, '');
  lines.push(`Produced by \`${command}\` on ${r.created_at} in ${f(r.duration_s, 0)} s. ` +
    `Machine: ${r.machine.cpus} × ${r.machine.cpu_model} (${r.machine.cpu_features.join(', ') || 'no vector extensions listed'}), load average at start ${r.machine.load_avg_at_start.map((x) => x.toFixed(2)).join(' ')}; ` +
    `Node ${r.machine.node}, torch ${r.machine.torch ?? '–'}; ${r.machine.threads} threads on each side; ` +
    `allocator \`${r.machine.allocator.mode}\` on each side (${Object.entries(r.machine.allocator.env).map(([k, v]) => `${k}=${v}`).join(' ') || 'glibc defaults'}).`, '');
  lines.push(`Matmul peak (${r.matmul_peak.size}² float32): torch ${gflops(r.matmul_peak.torch_flops)} GFLOP/s, onnxruntime ${gflops(r.matmul_peak.onnxruntime_flops)} GFLOP/s, ` +
    `onnxruntime side by side (${r.machine.threads} × 1 thread) ${gflops(r.matmul_peak.onnxruntime_side_by_side_flops)} GFLOP/s; achieved FLOP/s are divided by the largest.`, '');
  lines.push(`## Targets (headline model: ${r.headline_model})`, '', '| figure | value | target | met |', '|---|---|---|---|');
  for (const t of r.targets) lines.push(`| ${t.name} | ${f(t.value, 3)} | ${t.target} | ${t.met === null ? '–' : t.met ? 'yes' : 'no'} |`);
  lines.push('');
  if (r.crosscheck) lines.push(`Correctness: service vs PyTorch step rewards, max |Δ| = ${r.crosscheck.max_abs_diff.toExponential(2)} over ${r.crosscheck.items} items (tolerance ${r.crosscheck.tolerance}).`, '');
  for (const m of Object.values(r.models)) lines.push(modelSection(m));
  return lines.join('\n');
}
