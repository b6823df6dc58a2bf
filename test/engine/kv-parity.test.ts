/**
 * KV reuse on the trainer's tiny transformer bundles (real attention, both graph flavours):
 * continuing from a kept KV equals the full forward pass, and rows with different past lengths
 * batched together equal each row run alone.
 */
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle, type LoadedBundle } from '../../src/bundle/load-bundle.js';
import { silentLogger } from '../../src/logger.js';
import type { ForwardRow, LogprobModel } from '../../src/engine/types.js';
import { expectClose as expectCloseWithin, row, sequence } from '../helpers/engine-rows.js';

const BUNDLES = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bundles');
const TOL = 1e-5;

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  expectCloseWithin(a, b, TOL, what);
}

describe.each(['tiny-logprobs', 'tiny-logits', 'tiny-logprobs-fused'])('KV reuse on %s', (name) => {
  let bundle: LoadedBundle;
  let models: [string, LogprobModel][];
  beforeAll(async () => {
    bundle = await loadBundle(join(BUNDLES, name), { device: 'cpu', intraOpThreads: 1, logger: silentLogger });
    models = [['policy', bundle.policy]];
    if (bundle.reference) models.push(['reference', bundle.reference]);
  });
  afterAll(async () => {
    await bundle.dispose();
  });

  it('a forward pass continued from a kept KV equals the full pass', async () => {
    const ids = sequence(bundle, '12+7', ['12+7=19', 'Answer: 19']);
    const n = ids.length - 1;
    for (const [role, model] of models) {
      const [full] = await model.forward([row(ids, 0, n)]);
      for (const cut of [1, 9, n - 1]) {
        const [first] = await model.forward([row(ids, 0, cut, { keepKv: true })]);
        expect(first.kv!.length).toBe(cut);
        const [rest] = await model.forward([row(ids, cut, n, { past: first.kv })]);
        expectClose(first.logprobs, full.logprobs.subarray(0, cut), `${role} cut ${cut} (first part)`);
        expectClose(rest.logprobs, full.logprobs.subarray(cut), `${role} cut ${cut} (continuation)`);
      }
    }
  });

  it('the KV kept after a continuation equals the KV of the full pass', async () => {
    const ids = sequence(bundle, '3*4', ['3*4=12', 'Answer: 12']);
    const n = ids.length - 1;
    const [full] = await bundle.policy.forward([row(ids, 0, n, { keepKv: true })]);
    const [first] = await bundle.policy.forward([row(ids, 0, 5, { keepKv: true })]);
    const [rest] = await bundle.policy.forward([row(ids, 5, n, { past: first.kv, keepKv: true })]);
    expect(rest.kv!.length).toBe(n);
    const [want, got] = [await bundle.policy.readKv(full.kv!), await bundle.policy.readKv(rest.kv!)];
    for (let l = 0; l < want.keys.length; l++) {
      expectClose(got.keys[l], want.keys[l], `key ${l}`);
      expectClose(got.values[l], want.values[l], `value ${l}`);
    }
    for (const kv of [full.kv!, first.kv!, rest.kv!]) bundle.policy.releaseKv(kv);
  });

  it('the first m positions of a longer past (pastLength) serve as the past of m tokens', async () => {
    const ids = sequence(bundle, '5-2', ['5-2=3', 'so the result is 3', 'Answer: 3']);
    const n = ids.length - 1;
    for (const [role, model] of models) {
      const [full] = await model.forward([row(ids, 0, n)]);
      const [long] = await model.forward([row(ids, 0, n - 2, { keepKv: true })]);
      // Two rows cutting the same past at different lengths, in one batch, plus its whole length.
      const cuts = [3, 11, n - 2];
      const out = await model.forward(cuts.map((m) => row(ids, m, n, { past: long.kv, pastLength: m, keepKv: true })));
      cuts.forEach((m, i) => {
        expectClose(out[i].logprobs, full.logprobs.subarray(m), `${role} cut ${m}`);
        expect(out[i].kv!.length, `${role} cut ${m}: kept KV covers past + tokens`).toBe(n);
      });
      await expect(model.forward([row(ids, n - 1, n, { past: long.kv, pastLength: n - 1 })])).rejects.toThrow(/pastLength/);
      for (const r of [long, ...out]) model.releaseKv(r.kv!);
    }
  });

  it('rows with different past lengths batched together equal each row alone', async () => {
    const a = sequence(bundle, '12+7', ['12+7=19', 'Answer: 19']);
    const b = sequence(bundle, '5-2', ['5-2=3', 'so the result is 3', 'Answer: 3']);
    const c = sequence(bundle, '9', ['Answer: 9']);
    for (const [role, model] of models) {
      const [pa] = await model.forward([row(a, 0, 4, { keepKv: true })]);
      const [pb] = await model.forward([row(b, 0, 17, { keepKv: true })]);
      const rows: ForwardRow[] = [
        row(a, 4, a.length - 1, { past: pa.kv, keepKv: true }),
        row(b, 17, b.length - 1, { past: pb.kv, keepKv: true }),
        row(c, 0, c.length - 1, { keepKv: true }),
        row(b, 17, 19, { past: pb.kv }),
      ];
      const batched = await model.forward(rows);
      for (let i = 0; i < rows.length; i++) {
        const [alone] = await model.forward([rows[i]]);
        expectClose(batched[i].logprobs, alone.logprobs, `${role} row ${i} log-probs`);
        if (alone.kv) {
          expect(batched[i].kv!.length).toBe(alone.kv.length);
          const [want, got] = [await model.readKv(alone.kv), await model.readKv(batched[i].kv!)];
          want.keys.forEach((k, l) => expectClose(got.keys[l], k, `${role} row ${i} key ${l}`));
          want.values.forEach((v, l) => expectClose(got.values[l], v, `${role} row ${i} value ${l}`));
        }
      }
    }
  });
});
