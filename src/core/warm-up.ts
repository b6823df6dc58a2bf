/**
 * Warm-up of a loaded bundle: one real trace through both models before the bundle is declared
 * ready. It is also the last validation step, checking at load time what no file inspection can:
 * the graphs run with this tokenizer's ids, give finite log-probs, and continuing from their own
 * KV reproduces the full pass (a graph that ignores its past would silently corrupt KV reuse).
 */
import type { LoadedBundle } from '../bundle/load-bundle.js';
import type { ForwardRow, LogprobModel } from '../engine/types.js';
import { onCpuLane } from '../engine/cpu-lane.js';
import { traceRow } from './compute-logprobs.js';

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
  return traceRow([flat.slice(0, 1), flat.slice(1)]).row;
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
  let rest;
  try {
    [rest] = await model.forward([{ tokens: slice(row.tokens, m, n), targets: slice(row.targets, m, n), past: first.kv }]);
  } finally {
    model.releaseKv(first.kv);
  }
  const split = [...first.logprobs, ...rest.logprobs];
  for (let i = 0; i < n; i++) {
    if (row.targets[i] === -1) continue;
    if (Math.abs(split[i] - full.logprobs[i]) > KV_TOLERANCE) {
      throw new Error(
        `${label}: continuing from past key/values does not reproduce the full pass ` +
          `(position ${i}: ${split[i]} vs ${full.logprobs[i]}); the graph does not use past_key_values as specified`,
      );
    }
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
