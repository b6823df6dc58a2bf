/**
 * The onnxruntime engine on the analytic bigram graphs, whose log-probs and KV entries have a
 * closed form (test/fixtures/analytic): padding, positions, targets, KV slicing and continuation.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { OnnxLogprobModel } from '../../src/engine/onnx-model.js';
import { makeKv, type ForwardRow, type KvState } from '../../src/engine/types.js';
import { BUNDLES_DIR, V, bigram, bigramLogprob, kvKey, kvValue, type Flavour } from '../fixtures/analytic/closed-form.js';

const H = bigram.heads;
const D = bigram.head_dim;
const L = bigram.layers;

function open(flavour: Flavour): Promise<OnnxLogprobModel> {
  return OnnxLogprobModel.open(
    join(BUNDLES_DIR, `bigram-${flavour}`, 'policy.onnx'),
    `bigram-${flavour}/policy.onnx`,
    { flavour, numLayers: L, numHeads: H, headDim: D, vocabSize: V },
    { device: 'cpu', intraOpThreads: 1, logger: silentLogger },
  );
}

/** Expected log-prob at each fed position: the token at absolute position pastLen + s predicts targets[s]. */
function expected(flavour: Flavour, tokens: number[], targets: number[], pastLen: number): number[] {
  return tokens.map((t, s) => (targets[s] === -1 ? NaN : bigramLogprob('policy', flavour, t, pastLen + s, targets[s])));
}

function expectClose(actual: Float32Array, want: number[], tol = 1e-5): void {
  expect(actual.length).toBe(want.length);
  want.forEach((w, i) => {
    if (Number.isNaN(w)) expect(actual[i]).toBeNaN();
    else expect(Math.abs(actual[i] - w)).toBeLessThan(tol);
  });
}

/** The KV the bigram graph must hold for a token sequence, compact [H, len, D] per layer. */
function expectedKv(tokens: number[]): KvState {
  const mk = (f: typeof kvKey, l: number): Float32Array => {
    const a = new Float32Array(H * tokens.length * D);
    for (let h = 0; h < H; h++) for (let j = 0; j < tokens.length; j++) for (let d = 0; d < D; d++) {
      a[(h * tokens.length + j) * D + d] = f(l, tokens[j], h, d);
    }
    return a;
  };
  return makeKv(
    tokens.length,
    Array.from({ length: L }, (_, l) => mk(kvKey, l)),
    Array.from({ length: L }, (_, l) => mk(kvValue, l)),
  );
}

describe.each(['logprobs', 'logits'] as const)('OnnxLogprobModel (%s flavour)', (flavour) => {
  let model: OnnxLogprobModel;
  beforeAll(async () => {
    model = await open(flavour);
  });
  afterAll(async () => {
    await model.dispose();
  });

  it('reports the graph it checked', () => {
    expect(model.graph.flavour).toBe(flavour);
    expect(model.graph.hasPositionIds).toBe(flavour === 'logprobs');
    expect(model.executionProvider).toBe('cpu');
  });

  it('scores rows of different lengths in one padded batch, NaN where no target is wanted', async () => {
    const rows: ForwardRow[] = [
      { tokens: [10, 11, 12, 13, 14], targets: [11, 12, 13, 14, 15] },
      { tokens: [40], targets: [41] },
      { tokens: [7, 8, 9], targets: [-1, 9, 30] },
    ];
    const out = await model.forward(rows);
    rows.forEach((r, i) => expectClose(out[i].logprobs, expected(flavour, Array.from(r.tokens), Array.from(r.targets), 0)));
    expect(out.every((o) => o.kv === undefined)).toBe(true);
  });

  it('returns each row\'s compact KV and continues from it with positions after the past', async () => {
    const full = [20, 21, 22, 23, 24, 25, 26];
    const first = await model.forward([
      { tokens: full.slice(0, 3), targets: [-1, -1, -1], keepKv: true },
      { tokens: full.slice(0, 5), targets: [-1, -1, -1, -1, -1], keepKv: true },
    ]);
    expect(first[0].kv).toEqual(expectedKv(full.slice(0, 3)));
    expect(first[1].kv).toEqual(expectedKv(full.slice(0, 5)));

    // Pasts of lengths 3 and 5 in one batch, plus a row with no past.
    const rows: ForwardRow[] = [
      { tokens: full.slice(3, 6), targets: full.slice(4, 7), past: first[0].kv, keepKv: true },
      { tokens: full.slice(5, 6), targets: full.slice(6, 7), past: first[1].kv, keepKv: true },
      { tokens: [30, 31], targets: [31, 32], keepKv: true },
    ];
    const cont = await model.forward(rows);
    expectClose(cont[0].logprobs, expected(flavour, full.slice(3, 6), full.slice(4, 7), 3));
    expectClose(cont[1].logprobs, expected(flavour, full.slice(5, 6), full.slice(6, 7), 5));
    expectClose(cont[2].logprobs, expected(flavour, [30, 31], [31, 32], 0));
    expect(cont[0].kv).toEqual(expectedKv(full.slice(0, 6)));
    expect(cont[1].kv).toEqual(expectedKv(full.slice(0, 6)));
    expect(cont[2].kv).toEqual(expectedKv([30, 31]));
  });

  it('answers a row with no tokens without running it', async () => {
    const past = expectedKv([5, 6]);
    const out = await model.forward([
      { tokens: [], targets: [], past, keepKv: true },
      { tokens: [6], targets: [7] },
    ]);
    expect(out[0].logprobs.length).toBe(0);
    expect(out[0].kv).toBe(past);
    expectClose(out[1].logprobs, expected(flavour, [6], [7], 0));
  });

  it('feeds only the first pastLength positions of a past, in the graph and in the kept KV', async () => {
    const full = [4, 9, 2, 7, 7, 1, 3];
    const past = expectedKv(full.slice(0, 6));
    const out = await model.forward([
      { tokens: full.slice(2, 5), targets: full.slice(3, 6), past, pastLength: 2, keepKv: true },
      { tokens: full.slice(6), targets: [-1], past, keepKv: true },
      { tokens: [], targets: [], past, pastLength: 4, keepKv: true },
    ]);
    expectClose(out[0].logprobs, expected(flavour, full.slice(2, 5), full.slice(3, 6), 2));
    expect(out[0].kv).toEqual(expectedKv(full.slice(0, 5)));
    expect(out[1].kv).toEqual(expectedKv(full));
    expect(out[2].kv).toEqual(expectedKv(full.slice(0, 4)));
    await expect(model.forward([{ tokens: [1], targets: [2], past, pastLength: 7 }])).rejects.toThrow(/pastLength 7/);
  });

  it('returns a compact KV of the first keepKvPrefix positions, past included', async () => {
    const full = [4, 9, 2, 7, 7, 1, 3];
    const past = expectedKv(full.slice(0, 4));
    const out = await model.forward([
      { tokens: full.slice(4), targets: [1, 3, -1], past, keepKv: true, keepKvPrefix: 2 },
      { tokens: full.slice(2, 5), targets: [-1, -1, -1], keepKvPrefix: 3 },
      { tokens: [], targets: [], past, keepKvPrefix: 4 },
      { tokens: full.slice(4), targets: [-1, -1, -1], past, keepKvPrefix: 5 },
      { tokens: full.slice(4), targets: [-1, -1, -1], past, keepKvPrefix: 2 },
    ]);
    expect(out[0].kv).toEqual(expectedKv(full));
    expect(out[0].prefixKv).toEqual(expectedKv(full.slice(0, 2)));
    // Without keepKv only the prefix comes back.
    expect(out[1].kv).toBeUndefined();
    expect(out[1].prefixKv).toEqual(expectedKv(full.slice(2, 5)));
    expect(out[2].prefixKv).toEqual(past);
    // A prefix reaching into the new tokens, and one inside the past, without the row's KV.
    expect(out[3].kv).toBeUndefined();
    expect(out[3].prefixKv).toEqual(expectedKv(full.slice(0, 5)));
    expect(out[4].prefixKv).toEqual(expectedKv(full.slice(0, 2)));
    // Checked before anything runs.
    await expect(model.forward([{ tokens: [1, 2], targets: [2, 3], keepKvPrefix: 3 }])).rejects.toThrow(/keepKvPrefix 3 is outside/);
    await expect(model.forward([{ tokens: [1], targets: [2], pastLength: 1 }])).rejects.toThrow(/no past/);
  });

  it('rejects ids outside the vocabulary before calling onnxruntime', async () => {
    await expect(model.forward([{ tokens: [V], targets: [1] }])).rejects.toThrow(/outside the model vocabulary/);
    await expect(model.forward([{ tokens: [1], targets: [V + 3] }])).rejects.toThrow(/target id/);
  });

  it('throws the abort reason as a PrmError when the signal is already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(model.forward([{ tokens: [1], targets: [2] }], ac.signal)).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
  });
});
