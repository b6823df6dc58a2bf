/**
 * The trainer's default export puts attention in one onnxruntime MultiHeadAttention node per layer
 * (trainer/implicit_prm/fused_attention.py). tiny-logprobs-fused holds the same weights as
 * tiny-logprobs in that form; both must give the same log-probs and KV for batches that mix
 * past lengths, padding, `pastLength` and rows without a past, in both engine modes. (Each is
 * also checked against PyTorch by its golden fixture in test/core/golden-parity.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle, type LoadedBundle } from '../../src/bundle/load-bundle.js';
import { silentLogger } from '../../src/logger.js';
import type { LogprobModel } from '../../src/engine/types.js';
import { expectClose, row, sequence } from '../helpers/engine-rows.js';

const BUNDLES = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bundles');
const TOL = 1e-6;

/** Two passes on one model: prefixes first (KV kept), then a mixed batch continuing from them. */
async function run(bundle: LoadedBundle, model: LogprobModel) {
  const a = sequence(bundle, '12+7', ['12+7=19', 'Answer: 19']);
  const b = sequence(bundle, '5-2', ['5-2=3', 'so the result is 3', 'Answer: 3']);
  const c = sequence(bundle, '9', ['Answer: 9']);
  const first = await model.forward([row(a, 0, 6, { keepKv: true }), row(b, 0, 20, { keepKv: true })]);
  const second = await model.forward([
    row(a, 6, a.length - 1, { past: first[0].kv, keepKv: true }),
    row(b, 14, b.length - 1, { past: first[1].kv, pastLength: 14, keepKv: true }),
    row(c, 0, c.length - 1, { keepKv: true }),
  ]);
  const kvs = await Promise.all(second.map((r) => model.readKv(r.kv!)));
  return { logprobs: [...first, ...second].map((r) => r.logprobs), kvs };
}

describe.each(['worker', 'main'] as const)('fused attention export (engine threads: %s)', (engineThreads) => {
  let plain: LoadedBundle;
  let fused: LoadedBundle;
  beforeAll(async () => {
    const opts = { device: 'cpu' as const, intraOpThreads: 1, logger: silentLogger, engineThreads };
    [plain, fused] = await Promise.all([loadBundle(join(BUNDLES, 'tiny-logprobs'), opts), loadBundle(join(BUNDLES, 'tiny-logprobs-fused'), opts)]);
  });
  afterAll(async () => {
    await plain?.dispose();
    await fused?.dispose();
  });

  it('is really the fused form, and the plain bundle is not', () => {
    const has = (name: string) => readFileSync(join(BUNDLES, name, 'policy.onnx')).includes('MultiHeadAttention');
    expect(has('tiny-logprobs-fused')).toBe(true);
    expect(has('tiny-logprobs')).toBe(false);
  });

  it('gives the plain graph\'s log-probs and KV, batched, padded and continued', async () => {
    for (const role of ['policy', 'reference'] as const) {
      const want = await run(plain, plain[role]!);
      const got = await run(fused, fused[role]!);
      want.logprobs.forEach((w, i) => expectClose(got.logprobs[i], w, TOL, `${role} row ${i} log-probs`));
      want.kvs.forEach((w, i) => {
        expect(got.kvs[i].length).toBe(w.length);
        w.keys.forEach((k, l) => expectClose(got.kvs[i].keys[l], k, TOL, `${role} row ${i} key ${l}`));
        w.values.forEach((v, l) => expectClose(got.kvs[i].values[l], v, TOL, `${role} row ${i} value ${l}`));
      });
    }
  });
});
