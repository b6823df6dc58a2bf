/** The head graph of `logits`-flavour models: a stable log-softmax and the gather of each target. */
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { TARGET_LOGPROBS_GRAPH } from '../../src/engine/target-logprobs-graph.js';

async function run(logits: number[][], targets: number[]): Promise<number[]> {
  const s = await InferenceSession.create(TARGET_LOGPROBS_GRAPH, { executionProviders: ['cpu'] });
  try {
    const V = logits[0]!.length;
    const out = await s.run({
      logits: new Tensor('float32', Float32Array.from(logits.flat()), [1, logits.length, V]),
      target_ids: new Tensor('int64', BigInt64Array.from(targets.map(BigInt)), [1, targets.length]),
    });
    return Array.from(out.target_logprobs!.data as Float32Array);
  } finally {
    await s.release();
  }
}

describe('target log-probs graph', () => {
  it('matches the definition, position by position', async () => {
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    const [a, b] = await run([[1, 2, 3], [3, 2, 1]], [0, 0]);
    expect(a).toBeCloseTo(1 - lse, 5);
    expect(b).toBeCloseTo(3 - lse, 5);
  });

  it('stays finite for logits far outside exp range', async () => {
    const [half, tail, tiny] = await run([[1000, 1000], [-1000, -1001], [0, 200]], [1, 0, 0]);
    expect(half).toBeCloseTo(Math.log(0.5), 5);
    expect(tail).toBeCloseTo(-Math.log(1 + Math.exp(-1)), 5);
    // The unlikely token keeps its (tiny) log-prob instead of -Infinity.
    expect(tiny).toBeCloseTo(-200, 3);
  });
});
