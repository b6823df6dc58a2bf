/**
 * Warm-up of a loaded bundle: one real trace through both models before the bundle is declared
 * ready. It is also the last validation step, checking at load time what no file inspection can:
 * the graphs run with this tokenizer's ids, give finite log-probs, and continuing from their own
 * KV reproduces the full pass (a graph that ignores its past would silently corrupt KV reuse) — for
 * one row and for a batch of two rows with pasts of different lengths, as the batcher sends them
 * (some exports, e.g. onnxruntime-genai's GroupQueryAttention builds, run only batch 1 with a past).
 */
import type { LoadedBundle } from '../bundle/load-bundle.js';
import type { ForwardRow, KvHandle, LogprobModel } from '../engine/types.js';
import { onCpuLane } from '../engine/cpu-lane.js';
import { wholeTraceRow } from './plan-rows.js';

const SAMPLE_PROMPT = 'What is 2 + 3?';
const SAMPLE_STEPS = ['2 + 3 = 5', 'The answer is 5.'];
/** fp32 on a CPU agrees to ~1e-5; a GPU (TF32, other kernels) can differ more. Ignoring the
 * past changes log-probs by far more than this. */
const KV_TOLERANCE = 1e-2;

function sampleRow(bundle: LoadedBundle): ForwardRow {
  const seg = bundle.segmenter.segment(SAMPLE_PROMPT, SAMPLE_STEPS);
  const max = bundle.manifest.max_sequence_length;
  // A model with a tiny max_sequence_length still gets a valid (truncated) sequence.
  const flat = [...seg.prompt, ...seg.steps.flat()].slice(0, max);
  if (flat.length < 2) return { tokens: flat.slice(0, 1), targets: [-1] };
  const { tokens, targets } = wholeTraceRow([flat.slice(0, 1), flat.slice(1)]);
  return { tokens, targets };
}

async function checkModel(model: LogprobModel, label: string, row: ForwardRow): Promise<void> {
  const [full] = await model.forward([row]);
  full.logprobs.forEach((lp, i) => {
    if (row.targets[i] !== -1 && !(Number.isFinite(lp) && lp <= 1e-4)) {
      throw new Error(`${label}: warm-up log-prob at position ${i} is ${lp} (expected a finite value ≤ 0)`);
    }
  });
  const n = row.tokens.length;
  if (n < 2) return;
  const m = Math.floor(n / 2);
  const slice = (a: ArrayLike<number>, from: number, to: number): number[] => Array.from(a).slice(from, to);
  const [first] = await model.forward([{ tokens: slice(row.tokens, 0, m), targets: slice(row.targets, 0, m), keepKv: true }]);
  if (first.kv === undefined || first.kv.length !== m) {
    throw new Error(`${label}: warm-up asked for the KV of ${m} tokens and got ${first.kv?.length ?? 'none'}`);
  }
  let split: number[];
  let batched: number[][];
  try {
    const [rest] = await model.forward([{ tokens: slice(row.tokens, m, n), targets: slice(row.targets, m, n), past: first.kv }]);
    split = [...first.logprobs, ...rest.logprobs];
    batched = await batchOfTwo(model, label, row, first.kv, m);
  } finally {
    model.releaseKv(first.kv);
  }
  const check = (got: ArrayLike<number>, from: number, what: string) => {
    for (let i = from; i < n; i++) {
      if (row.targets[i] === -1) continue;
      if (Math.abs(got[i - from] - full.logprobs[i]) > KV_TOLERANCE) {
        throw new Error(
          `${label}: continuing from past key/values ${what} does not reproduce the full pass ` +
            `(position ${i}: ${got[i - from]} vs ${full.logprobs[i]}); the graph does not use past_key_values as specified`,
        );
      }
    }
  };
  check(split, 0, '');
  check(batched[0]!, m, 'in a batch of two');
  check(batched[1]!, m - 1, 'in a batch of two with a shorter past');
}

/** Rows m.. after the whole past and m−1.. after its first m−1 positions, in one pass. */
async function batchOfTwo(model: LogprobModel, label: string, row: ForwardRow, past: KvHandle, m: number): Promise<number[][]> {
  const n = row.tokens.length;
  const slice = (a: ArrayLike<number>, from: number): number[] => Array.from(a).slice(from, n);
  try {
    const out = await model.forward([
      { tokens: slice(row.tokens, m), targets: slice(row.targets, m), past },
      { tokens: slice(row.tokens, m - 1), targets: slice(row.targets, m - 1), past, pastLength: m - 1 },
    ]);
    return out.map((r) => Array.from(r.logprobs));
  } catch (err) {
    throw new Error(`${label}: a batch of two rows with past key/values fails (${(err as Error).message.split('\n')[0]}); ` +
      'this service batches rows, so the graph must take a batch dimension above 1 with a past', { cause: err });
  }
}

export async function warmUp(bundle: LoadedBundle): Promise<void> {
  const row = sampleRow(bundle);
  const { policy, reference, manifest } = bundle;
  // In the CPU lane like a batch: a bundle loading beside a serving one does not oversubscribe the cores.
  await onCpuLane([policy, reference], async () => {
    await checkModel(policy, `${bundle.name}/${manifest.policy.onnx}`, row);
    if (reference !== null && manifest.reference !== null) await checkModel(reference, `${bundle.name}/${manifest.reference.onnx}`, row);
  });
}
