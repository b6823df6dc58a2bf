/**
 * The PyTorch side: the trainer's reference scorer (`trainer/.venv/bin/python -m implicit_prm score`, a padded batch
 * forward the way the implicit-PRM paper computes step rewards) and its random-bundle exporter,
 * both run as children of the bench so that everything lives in one process tree.
 *
 * The scorer runs under a small wrapper that reports the process's peak RSS (getrusage) on exit,
 * which a parent cannot read once the child is gone.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRAINER_PYTHON as PYTHON } from '../scripts/trainer-python.js';
import type { Item } from './workloads.js';

export { PYTHON };

export interface TorchResult {
  id: string;
  q: number[];
  step_rewards: number[];
  outcome_reward: number;
  tokens: number;
}

export interface TorchRun {
  /** Scoring time reported by the scorer itself (model loading excluded, as on the service side). */
  seconds: number;
  /** Wall time of the whole child process, loading included. */
  processSeconds: number;
  peakRssBytes: number;
  summary: Record<string, unknown>;
  results: TorchResult[];
}

function threadEnv(threads: number): NodeJS.ProcessEnv {
  const n = String(threads);
  return { ...process.env, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n };
}

/** Runs a child to completion; rejects with its stderr tail on a non-zero exit. */
export function runChild(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string; seconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString('utf8'); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
    child.on('error', reject);
    child.on('exit', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code === 0) resolve({ stdout, stderr, seconds });
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${stderr.slice(-3000)}`));
    });
  });
}

const RUSAGE_WRAPPER = [
  'import json, resource, sys',
  'from implicit_prm.cli import main',
  'try:',
  '    main(sys.argv[1:])',
  'finally:',
  "    sys.stderr.write('BENCH_RUSAGE ' + json.dumps({'maxrss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}) + '\\n')",
].join('\n');

/** The last stderr line that is a JSON object (the scorer's one-line summary). */
function lastJsonLine(stderr: string): Record<string, unknown> {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return JSON.parse(lines[i]) as Record<string, unknown>;
    } catch {
      /* not the summary */
    }
  }
  throw new Error(`no JSON summary line on the scorer's stderr:\n${stderr.slice(-2000)}`);
}

export interface TorchScoreOptions {
  repoRoot: string;
  bundleDir: string;
  workDir: string;
  name: string;
  threads: number;
  batchSize: number;
  /** The transformers checkpoints a bundle was imported from: scored by `score-hf` on them. */
  checkpoints?: HfCheckpoints | null;
}

export interface HfCheckpoints {
  policy: string;
  reference: string;
}

/** The scorer's command line: transformers on the original checkpoints, or the trainer's own model. */
function scorerArgs(o: TorchScoreOptions, inPath: string, outPath: string): string[] {
  const io = ['--bundle', o.bundleDir, '--in', inPath, '--out', outPath, '--threads', String(o.threads), '--batch-size', String(o.batchSize),
    // One untimed pass over the longest batch, as the service's warm-up items are untimed.
    '--warmup-batches', '1'];
  if (o.checkpoints) return ['score-hf', '--policy', o.checkpoints.policy, '--reference', o.checkpoints.reference, ...io];
  return ['score', ...io];
}

/** Scores `items` in PyTorch; extra item fields (e.g. partial: true) go into the input lines as they are. */
export async function torchScore(o: TorchScoreOptions, items: (Item & { partial?: boolean })[]): Promise<TorchRun> {
  const inPath = join(o.workDir, `${o.name}.in.jsonl`);
  const outPath = join(o.workDir, `${o.name}.out.jsonl`);
  writeFileSync(inPath, items.map((it) => JSON.stringify(it)).join('\n') + '\n');
  const trainer = join(o.repoRoot, 'trainer');
  const args = ['-c', RUSAGE_WRAPPER, ...scorerArgs(o, inPath, outPath)];
  const env = { ...threadEnv(o.threads), PYTHONPATH: trainer };
  const { stderr, seconds: processSeconds } = await runChild(PYTHON, args, trainer, env);
  const summary = lastJsonLine(stderr.split('\n').filter((l) => !l.startsWith('BENCH_RUSAGE')).join('\n'));
  const rusage = /BENCH_RUSAGE (\{.*\})/.exec(stderr);
  const peakRssBytes = rusage ? (JSON.parse(rusage[1]) as { maxrss_kb: number }).maxrss_kb * 1024 : 0;
  const seconds = Number(summary.seconds ?? summary.elapsed_s ?? summary.time_s);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`scorer summary has no 'seconds': ${JSON.stringify(summary)}`);
  const results = readFileSync(outPath, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as TorchResult);
  if (results.length !== items.length) throw new Error(`scorer wrote ${results.length} results for ${items.length} items`);
  return { seconds, processSeconds, peakRssBytes, summary, results };
}

/**
 * Random transformers checkpoints of about `params` parameters (`random-hf`: Llama, grouped-query
 * attention, the arithmetic tokenizer) imported into `outDir` by the trainer's `import`, in the
 * arithmetic text format the workloads use; the checkpoints go to `hf`. Returns the seconds taken
 * and the checkpoints.
 */
export async function importRandomBundle(repoRoot: string, params: string, maxSequence: number, outDir: string, hf: string, threads: number): Promise<{ seconds: number; checkpoints: HfCheckpoints }> {
  const trainer = join(repoRoot, 'trainer');
  const env = { ...threadEnv(threads), PYTHONPATH: trainer };
  const made = await runChild(PYTHON, ['-m', 'implicit_prm', 'random-hf', '--params', params, '--max-positions', String(maxSequence), '--out', hf], trainer, env);
  const checkpoints = { policy: join(hf, 'policy'), reference: join(hf, 'reference') };
  const imported = await runChild(PYTHON, ['-m', 'implicit_prm', 'import', '--policy', checkpoints.policy, '--reference', checkpoints.reference,
    '--out', outDir, '--name', 'random-30m', '--beta', '0.05', '--step-separator', '\n', '--prompt-template', 'Problem: {prompt}\nSolution:\n',
    '--no-chat-template', '--append-eos', '--max-sequence-length', String(maxSequence)], trainer, env);
  return { seconds: made.seconds + imported.seconds, checkpoints };
}

export interface MatmulPeak {
  size: number;
  threads: number;
  torch_flops: number;
  onnx_path: string;
}

/** torch.mm peak (bench/matmul_peak.py), which also writes the same MatMul as ONNX for onnxruntime. */
export async function torchMatmulPeak(repoRoot: string, workDir: string, threads: number, size: number): Promise<MatmulPeak> {
  const onnxPath = join(workDir, `matmul-${size}.onnx`);
  const { stdout } = await runChild(PYTHON, [join(repoRoot, 'bench', 'matmul_peak.py'), '--threads', String(threads),
    '--size', String(size), '--onnx-out', onnxPath], repoRoot, threadEnv(threads));
  const r = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { flops: number };
  return { size, threads, torch_flops: r.flops, onnx_path: onnxPath };
}
