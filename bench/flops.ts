/**
 * FLOP accounting: model FLOPs of a forward pass estimated from the bundle's architecture, and the
 * onnxruntime MatMul peak measured on the same shapes as bench/matmul_peak.py times in torch.
 *
 * "Model FLOPs" (the MFU convention): only the work a trace needs, whatever the implementation
 * spends on padding, masked-out attention or recomputation. Per model and token, 2 × the matmul
 * parameters (q/k/v/output projections, the MLP, the LM head); attention adds 4·d per attended key
 * per layer (QKᵀ and AV), so a causal sequence of T tokens costs 2·L·d·T·(T+1) on top.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

/** The trainer's own GPT (prm.json `architecture` of its bundles). */
interface GptArchitecture {
  type?: string;
  vocab_size: number;
  d_model: number;
  n_layers: number;
  n_heads: number;
  d_ff: number;
  max_seq_len?: number;
}

/** A model imported from transformers (`import` writes its config's shape facts). */
interface TransformersArchitecture {
  type: 'transformers';
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  gated_mlp: boolean;
}

interface ModelEntry {
  num_layers: number;
  num_heads: number;
  head_dim: number;
  vocab_size: number;
  architecture?: GptArchitecture | TransformersArchitecture;
}

export interface BundleFacts {
  name: string;
  maxSequence: number;
  template: string;
  /** Models run per token: 2 with a reference, 1 without. */
  models: number;
  /** Parameters of the policy (embeddings included), as the bundle's architecture implies. */
  params: number;
  /** Matmul parameters of the policy (what 2·N FLOPs per token counts). */
  matmulParams: number;
  layers: number;
  /** Width of the attention (query heads × head size): 4·dModel FLOPs per attended key per layer. */
  dModel: number;
}

type Shape = Pick<BundleFacts, 'params' | 'matmulParams' | 'layers' | 'dModel'>;

function gptShape(a: GptArchitecture, maxSequence: number): Shape {
  const d = a.d_model;
  const matmulParams = a.n_layers * (4 * d * d + 2 * d * a.d_ff) + d * a.vocab_size;
  const perLayerOther = 4 * d + a.d_ff + d + 4 * d; // biases of qkv/proj/fc1/fc2, two LayerNorms
  const params = matmulParams + a.n_layers * perLayerOther + a.vocab_size * d + (a.max_seq_len ?? maxSequence) * d + 2 * d;
  return { params, matmulParams, layers: a.n_layers, dModel: d };
}

function transformersShape(a: TransformersArchitecture): Shape {
  const d = a.hidden_size;
  const q = a.num_attention_heads * a.head_dim;
  const kv = a.num_key_value_heads * a.head_dim;
  const perLayer = d * q + 2 * d * kv + q * d + (a.gated_mlp ? 3 : 2) * d * a.intermediate_size;
  const matmulParams = a.num_hidden_layers * perLayer + d * a.vocab_size;
  // Norm weights (two per layer and a final one) and the input embedding.
  const params = matmulParams + (2 * a.num_hidden_layers + 1) * d + a.vocab_size * d;
  return { params, matmulParams, layers: a.num_hidden_layers, dModel: q };
}

export function readBundle(dir: string): BundleFacts {
  const m = JSON.parse(readFileSync(join(dir, 'prm.json'), 'utf8')) as {
    name: string; max_sequence_length: number; prompt_template: string;
    policy: ModelEntry; reference: ModelEntry | null;
  };
  const p = m.policy;
  const a = p.architecture ?? {
    vocab_size: p.vocab_size, d_model: p.num_heads * p.head_dim, n_layers: p.num_layers, n_heads: p.num_heads,
    d_ff: 4 * p.num_heads * p.head_dim,
  };
  const shape = a.type === 'transformers' ? transformersShape(a as TransformersArchitecture) : gptShape(a as GptArchitecture, m.max_sequence_length);
  return { name: m.name, maxSequence: m.max_sequence_length, template: m.prompt_template, models: m.reference ? 2 : 1, ...shape };
}

/** Model FLOPs to score sequences of the given total lengths (prompt + response), all models. */
export function sequenceFlops(b: BundleFacts, lengths: readonly number[]): number {
  let f = 0;
  for (const t of lengths) f += 2 * b.matmulParams * t + 2 * b.layers * b.dModel * t * (t + 1);
  return f * b.models;
}

/** FLOPs per token for a sequence of length t (for the report's per-token figure). */
export function flopsPerToken(b: BundleFacts, t: number): number {
  return sequenceFlops(b, [t]) / t;
}

/**
 * One worker thread's timing of the exported MatMul: open it with `w.threads` intra-op threads, warm
 * up, say 'ready', wait for 'go' (so all workers time the same window), post its best-of-repeats
 * FLOP/s. Runs in a worker so that several sessions can run side by side (onnxruntime-node runs a
 * session synchronously on the calling thread).
 */
const MATMUL_WORKER = `
const { parentPort, workerData: w } = require('node:worker_threads');
const ort = require(w.ortPath);
(async () => {
  const s = await ort.InferenceSession.create(w.onnxPath, { executionProviders: ['cpu'], intraOpNumThreads: w.threads, interOpNumThreads: 1 });
  const x = new ort.Tensor('float32', Float32Array.from({ length: w.size * w.size }, () => Math.random() - 0.5), [w.size, w.size]);
  await s.run({ x });
  await new Promise((go) => { parentPort.once('message', go); parentPort.postMessage('ready'); });
  const iters = Math.max(1, Math.floor(2e9 / (2 * w.size ** 3)));
  let best = Infinity;
  for (let r = 0; r < w.repeats; r++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) await s.run({ x });
    best = Math.min(best, (performance.now() - t0) / 1000 / iters);
  }
  await s.release();
  parentPort.postMessage((2 * w.size ** 3) / best);
})(); // a rejection ends the worker with an 'error' event, which rejects the caller
`;

/** `sessions` MatMul sessions of `threadsEach` intra-op threads, timed together; the sum of their best rates. */
async function matmulFlops(onnxPath: string, size: number, sessions: number, threadsEach: number, repeats: number): Promise<number> {
  const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
  const workers = Array.from({ length: sessions }, () =>
    new Worker(MATMUL_WORKER, { eval: true, workerData: { ortPath, onnxPath, size, threads: threadsEach, repeats } }));
  try {
    const settled = workers.map((w) => new Promise<number>((resolve, reject) => {
      w.on('error', reject);
      w.on('message', (m: unknown) => { if (typeof m === 'number') resolve(m); });
    }));
    await Promise.all(workers.map((w) => new Promise<void>((ready, reject) => {
      w.once('error', reject);
      w.once('message', () => ready());
    })));
    for (const w of workers) w.postMessage('go');
    const rates = await Promise.all(settled);
    return rates.reduce((a, b) => a + b, 0);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Best-of-`repeats` onnxruntime time of the exported MatMul on one session of `threads` threads, as FLOP/s. */
export function ortMatmulPeak(onnxPath: string, size: number, threads: number, repeats = 20): Promise<number> {
  return matmulFlops(onnxPath, size, 1, threads, repeats);
}

/**
 * The MatMul run as the service runs a pair of models: `threads` sessions of one intra-op thread
 * each, side by side in their own threads (src/engine/cpu-lane.ts). Where a single GEMM gains
 * little from a second thread, this is the higher yardstick.
 */
export function ortMatmulPeakSideBySide(onnxPath: string, size: number, threads: number, repeats = 20): Promise<number> {
  return matmulFlops(onnxPath, size, threads, 1, repeats);
}
