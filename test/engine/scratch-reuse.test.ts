/**
 * The engine reuses one buffer for the padded pasts of its passes. Whatever an earlier pass left
 * there must not leak into the next: padding is zeroed, so even a buffer full of NaN (which masked
 * attention would turn into NaN log-probs if it were read) gives the results of fresh storage.
 */
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { OnnxLogprobModel } from '../../src/engine/onnx-model.js';
import type { ForwardRow } from '../../src/engine/types.js';

const POLICY = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bundles'), 'tiny-logprobs', 'policy.onnx');
const SPEC = { flavour: 'logprobs' as const, numLayers: 2, numHeads: 2, headDim: 16, vocabSize: 99 };

describe('reused past storage', () => {
  let reused: OnnxLogprobModel;
  let fresh: OnnxLogprobModel;
  beforeAll(async () => {
    const opts = { device: 'cpu' as const, intraOpThreads: 1, logger: silentLogger };
    [reused, fresh] = await Promise.all([OnnxLogprobModel.open(POLICY, 'reused', SPEC, opts), OnnxLogprobModel.open(POLICY, 'fresh', SPEC, opts)]);
  });
  afterAll(async () => {
    await reused?.dispose();
    await fresh?.dispose();
  });

  it('zeroes the padding of a reused buffer: a NaN-filled one gives fresh results', async () => {
    const seq = Array.from({ length: 60 }, (_, i) => 3 + ((i * 7) % 90));
    const row = (from: number, to: number, extra: Partial<ForwardRow> = {}): ForwardRow => ({
      tokens: seq.slice(from, to), targets: seq.slice(from + 1, to + 1), ...extra,
    });
    const [long] = await fresh.forward([row(0, 40, { keepKv: true })]);
    const [short] = await fresh.forward([row(0, 5, { keepKv: true })]);
    // Pasts of 40 and 5 positions side by side: the short one is padded up to 40.
    const batch = [row(40, 50, { past: long.kv }), row(5, 9, { past: short.kv })];
    const want = await fresh.forward(batch);
    for (let round = 0; round < 2; round++) {
      // Grow the reused buffer with a first pass, then poison all of it.
      await reused.forward(batch);
      (reused as unknown as { scratch: Float32Array }).scratch.fill(NaN);
      const got = await reused.forward(batch);
      got.forEach((g, i) => expect(Array.from(g.logprobs)).toEqual(Array.from(want[i].logprobs)));
    }
  });
});
