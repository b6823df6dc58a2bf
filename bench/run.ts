/**
 * `npm run bench [-- --quick --out FILE ...]`: the throughput benchmark of the service against
 * the PyTorch reference scorer, in one process tree (this process, its server children, its
 * Python children), same thread count on both sides. See bench/NOTES.md for what each figure
 * means and the report's shape. Exits 1 when the service's rewards differ from PyTorch's.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyAllocator } from './allocator.js';
import { parseArgs } from './args.js';
import { prepareBundle } from './bundles.js';
import { ortMatmulPeak, ortMatmulPeakSideBySide } from './flops.js';
import { runModel, type ModelReport } from './model-run.js';
import { buildReport, renderMarkdown, type Machine } from './report.js';
import { PYTHON, torchMatmulPeak } from './torch-side.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const workDir = resolve(repoRoot, 'bench', 'work');

function log(s: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
}

function torchVersion(): string | null {
  try {
    return execFileSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

/** The vector extensions of /proc/cpuinfo that matter for float32 matmul speed ([] elsewhere). */
function cpuFeatures(): string[] {
  try {
    const flags = /^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].split(/\s+/) ?? [];
    return flags.filter((f) => /^(avx|avx2|fma|f16c|avx512\w*|amx\w*|avx_vnni)$/.test(f)).sort();
  } catch {
    return [];
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv);
  const startedAt = new Date();
  mkdirSync(workDir, { recursive: true });
  // Before any child starts: glibc reads these at process start.
  const allocatorEnvSeen = applyAllocator(args.allocator);
  const machine: Machine = {
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    cpu_features: cpuFeatures(),
    load_avg_at_start: loadavg(),
    node: process.version,
    torch: torchVersion(),
    threads: args.threads,
    allocator: { mode: args.allocator, env: allocatorEnvSeen },
  };
  if (machine.load_avg_at_start[0] > 0.5 * machine.cpus) {
    log(`load average ${machine.load_avg_at_start[0].toFixed(2)} on ${machine.cpus} cpus: figures will not be representative`);
  }

  log(`matmul peak with ${args.threads} threads`);
  const tp = await torchMatmulPeak(repoRoot, workDir, args.threads, 1024);
  const ortFlops = await ortMatmulPeak(tp.onnx_path, tp.size, args.threads);
  const sideBySide = await ortMatmulPeakSideBySide(tp.onnx_path, tp.size, args.threads);
  const peak = {
    size: tp.size, torch_flops: tp.torch_flops, onnxruntime_flops: ortFlops, onnxruntime_side_by_side_flops: sideBySide,
    peak_flops: Math.max(tp.torch_flops, ortFlops, sideBySide),
  };
  log(`  torch ${(peak.torch_flops / 1e9).toFixed(1)} GFLOP/s, onnxruntime ${(ortFlops / 1e9).toFixed(1)} GFLOP/s, ` +
    `side by side ${(sideBySide / 1e9).toFixed(1)} GFLOP/s`);

  const models: ModelReport[] = [];
  for (const key of args.models) {
    log(`model ${key}: preparing bundle`);
    const bundle = await prepareBundle(key, repoRoot, workDir, args.threads, args.randomParams);
    if (bundle.exportSeconds !== null) log(`  exported in ${bundle.exportSeconds.toFixed(1)} s`);
    if (bundle.note) log(`  ${bundle.note}`);
    const t0 = performance.now();
    models.push(await runModel(bundle, args, repoRoot, workDir, peak.peak_flops, log));
    log(`  ${key} done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }

  const report = buildReport(args, machine, peak, models, startedAt);
  const outPath = resolve(repoRoot, args.out);
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, `${JSON.stringify(report, null, 2)}\n`);
  const md = renderMarkdown(report, `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`);
  if (args.markdown) writeFileSync(resolve(repoRoot, args.markdown), `${md}\n`);
  log(`wrote ${args.out}${args.markdown ? ` and ${args.markdown}` : ''} in ${report.duration_s.toFixed(0)} s`);
  for (const t of report.targets) log(`  ${t.name} = ${t.value === null ? '–' : t.value.toFixed(3)} (target ${t.target}${t.met === null ? '' : t.met ? ', met' : ', NOT met'})`);

  if (report.crosscheck && !report.crosscheck.ok) {
    log(`CROSS-CHECK FAILED: service and PyTorch step rewards differ by ${report.crosscheck.max_abs_diff} ` +
      `(item ${report.crosscheck.worst_item}; tolerance ${report.crosscheck.tolerance})`);
    return 1;
  }
  if (report.crosscheck) log(`cross-check ok: max |Δ| ${report.crosscheck.max_abs_diff.toExponential(2)} over ${report.crosscheck.items} items`);
  else log('no cross-check (PyTorch side skipped)');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    process.exit(2);
  },
);
