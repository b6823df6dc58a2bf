/**
 * `npx tsx bench/head-graph.ts`: ms per position of log_softmax + target gather over a 151 936-token
 * vocabulary (Qwen's), for `logits`-flavour graphs: the head graph in onnxruntime
 * (src/engine/target-logprobs-graph.ts) on 1 and 2 threads, against the float64 JavaScript loop the
 * engine used before (kept here as the baseline), on 4 × 64 random positions.
 */
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { TARGET_LOGPROBS_GRAPH } from '../src/engine/target-logprobs-graph.js';

const V = 151_936;
const B = 4;
const S = 64;

function jsLogSoftmaxAt(logits: Float32Array, offset: number, target: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[offset + v]!);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[offset + v]! - max);
  return logits[offset + target]! - max - Math.log(sum);
}

const logits = Float32Array.from({ length: B * S * V }, () => Math.random() * 20 - 10);
const targets = BigInt64Array.from({ length: B * S }, (_, i) => BigInt((i * 7919) % V));
const feeds = () => ({ logits: new Tensor('float32', logits, [B, S, V]), target_ids: new Tensor('int64', targets, [B, S]) });
for (const threads of [1, 2]) {
  const session = await InferenceSession.create(TARGET_LOGPROBS_GRAPH, { executionProviders: ['cpu'], intraOpNumThreads: threads });
  await session.run(feeds());
  const started = performance.now();
  const out = await session.run(feeds());
  const ms = (performance.now() - started) / (B * S);
  const got = out.target_logprobs!.data as Float32Array;
  let diff = 0;
  for (let i = 0; i < 16; i++) diff = Math.max(diff, Math.abs(got[i]! - jsLogSoftmaxAt(logits, i * V, Number(targets[i]))));
  console.log(JSON.stringify({ head_graph_threads: threads, ms_per_position: +ms.toFixed(3), max_abs_diff_vs_js: diff }));
  await session.release();
}
const started = performance.now();
for (let i = 0; i < B * S; i++) jsLogSoftmaxAt(logits, i * V, Number(targets[i]));
console.log(JSON.stringify({ javascript_ms_per_position: +((performance.now() - started) / (B * S)).toFixed(3) }));
