/**
 * PRM_ENGINE_THREADS=worker against the in-thread engine on the trainer's tiny transformer bundles:
 * identical bits for every output (log-probs, NaN where no target is wanted, kept KV), KV held in
 * the worker by handle until released, and the same errors, logs and abort behaviour.
 */
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle, type LoadedBundle } from '../../src/bundle/load-bundle.js';
import { ModelPair } from '../../src/engine/model-pair.js';
import { ErrorCode, PrmError } from '../../src/errors.js';
import type { SessionOptions } from '../../src/engine/execution-provider.js';
import type { ModelSpec } from '../../src/engine/graph-interface.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { OnnxLogprobModel } from '../../src/engine/onnx-model.js';
import type { ForwardResult, ForwardRow, KvState, LogprobModel } from '../../src/engine/types.js';
import { WorkerLogprobModel } from '../../src/engine/worker-model.js';
import { metrics } from '../../src/metrics.js';

const BUNDLES = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bundles');
const POLICY = join(BUNDLES, 'tiny-logprobs', 'policy.onnx');
const SPEC: ModelSpec = { flavour: 'logprobs', numLayers: 2, numHeads: 2, headDim: 16, vocabSize: 99 };
const CPU: SessionOptions = { device: 'cpu', intraOpThreads: 1, logger: silentLogger };

function bytes(a: Float32Array | Uint16Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function expectSameBits(a: Float32Array | Uint16Array, b: Float32Array | Uint16Array, what: string): void {
  expect(a.length, what).toBe(b.length);
  expect(bytes(a).equals(bytes(b)), `${what} differs bitwise`).toBe(true);
}

function expectSameKv(a: KvState | undefined, b: KvState | undefined, what: string): void {
  expect(a === undefined, `${what}: kv presence`).toBe(b === undefined);
  if (a === undefined || b === undefined) return;
  expect(a.length, `${what}: kv length`).toBe(b.length);
  a.keys.forEach((k, l) => expectSameBits(k, b.keys[l], `${what}: keys[${l}]`));
  a.values.forEach((v, l) => expectSameBits(v, b.values[l], `${what}: values[${l}]`));
}

/** Results of two models on the same rows; KV compared by reading it back from each model. */
async function expectSameResults(a: ForwardResult[], ma: LogprobModel, b: ForwardResult[], mb: LogprobModel, what: string): Promise<void> {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    expectSameBits(a[i].logprobs, b[i].logprobs, `${what} row ${i} logprobs`);
    for (const which of ['kv', 'prefixKv'] as const) {
      const [ka, kb] = [a[i][which] && (await ma.readKv(a[i][which]!)), b[i][which] && (await mb.readKv(b[i][which]!))];
      expectSameKv(ka, kb, `${what} row ${i} ${which}`);
    }
  }
}

function ids(bundle: LoadedBundle, prompt: string, steps: string[]): number[] {
  const seg = bundle.segmenter.segment(prompt, steps);
  return [...seg.prompt, ...seg.steps.flat()];
}

/** Next-token targets, with no target wanted (-1) on the first `skip` positions. */
function row(seq: number[], from: number, to: number, extra: Partial<ForwardRow> = {}, skip = 0): ForwardRow {
  const targets = seq.slice(from + 1, to + 1).map((t, i) => (i < skip ? -1 : t));
  return { tokens: Int32Array.from(seq.slice(from, to)), targets, ...extra };
}

describe.each(['tiny-logprobs', 'tiny-logits', 'tiny-ref-free'])('worker mode equals main mode bit for bit on %s', (name) => {
  let main: LoadedBundle;
  let worker: LoadedBundle;
  beforeAll(async () => {
    [main, worker] = await Promise.all([
      loadBundle(join(BUNDLES, name), { ...CPU, engineThreads: 'main' }),
      loadBundle(join(BUNDLES, name), { ...CPU, engineThreads: 'worker' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([main?.dispose(), worker?.dispose()]);
  });

  it('opens the worker implementation only where asked', () => {
    expect(main.policy).toBeInstanceOf(OnnxLogprobModel);
    expect(worker.policy).toBeInstanceOf(WorkerLogprobModel);
    expect(worker.policy.executionProvider).toBe(main.policy.executionProvider);
    expect(worker.reference === null).toBe(name === 'tiny-ref-free');
  });

  it('full passes, KV continuations with mixed past lengths and empty rows', async () => {
    const a = ids(main, '12+7', ['12+7=19', 'Answer: 19']);
    const b = ids(main, '3*4', ['3*4=12']);
    const pairs: [string, LogprobModel, LogprobModel][] = [['policy', main.policy, worker.policy]];
    if (main.reference && worker.reference) pairs.push(['reference', main.reference, worker.reference]);
    for (const [role, m, w] of pairs) {
      const first = [row(a, 0, 9, { keepKv: true }, 3), row(b, 0, b.length - 1, { keepKv: true }), row(a, 0, a.length - 1)];
      const [fm, fw] = [await m.forward(first), await w.forward(first)];
      await expectSameResults(fw, w, fm, m, `${role} first pass`);

      // Continue from each model's own KV (as the tier-2 cache would), mixed with a fresh row, a
      // row that only asks for its KV back and one that cuts its past short (pastLength).
      const cont = (f: ForwardResult[]) => [
        row(a, 9, a.length - 1, { past: f[0].kv, keepKv: true }),
        row(b, b.length - 1, b.length - 1, { past: f[1].kv, keepKv: true }),
        row(b, 0, 5, {}, 2),
        row(b, 4, b.length - 1, { past: f[1].kv, pastLength: 4, keepKv: true, keepKvPrefix: 3 }),
        row(b, b.length - 1, b.length - 1, { past: f[1].kv, pastLength: 3, keepKv: true }),
      ];
      const [cw, cm] = [await w.forward(cont(fw)), await m.forward(cont(fm))];
      await expectSameResults(cw, w, cm, m, `${role} continuation`);
      for (const r of [...fw, ...cw]) for (const kv of [r.kv, r.prefixKv]) if (kv) w.releaseKv(kv);
    }
  });
});

describe('WorkerLogprobModel semantics', () => {
  let model: WorkerLogprobModel;
  let inThread: OnnxLogprobModel;
  beforeAll(async () => {
    [model, inThread] = await Promise.all([WorkerLogprobModel.open(POLICY, 'm/policy.onnx', SPEC, CPU), OnnxLogprobModel.open(POLICY, 'm/policy.onnx', SPEC, CPU)]);
  });
  afterAll(async () => {
    await Promise.all([model?.dispose(), inThread?.dispose()]);
  });

  async function failure(p: Promise<unknown>): Promise<Error> {
    try {
      await p;
    } catch (err) {
      return err as Error;
    }
    throw new Error('expected a rejection');
  }

  it('keeps KV in the worker until released, and refuses pasts it does not hold', async () => {
    const gauge = async (): Promise<number> =>
      (await metrics.engineKvBytes.get()).values.find((v) => v.labels.model === 'm/policy.onnx')?.value ?? 0;
    const before = await gauge();
    const seq = Array.from({ length: 12 }, (_, i) => 3 + i);
    const [kept] = await model.forward([row(seq, 0, 6, { keepKv: true })]);
    expect(kept.kv!.length).toBe(6);
    // prm_engine_kv_bytes counts it, and agrees with what the worker reports holding.
    expect(await gauge()).toBe(before + kept.kv!.bytes);
    expect((await model.heldKv()).bytes).toBe(await gauge());
    // Only the handle crossed: it carries the size but none of the arrays.
    expect(Object.values(kept.kv!).some((v) => v instanceof Float32Array || Array.isArray(v))).toBe(false);
    const [want] = await inThread.forward([row(seq, 0, 6, { keepKv: true })]);
    expect(kept.kv!.bytes).toBe(want.kv!.bytes);
    expectSameKv(await model.readKv(kept.kv!), await inThread.readKv(want.kv!), 'read back');

    const inThreadPast = await failure(model.forward([row(seq, 6, 8, { past: want.kv })]));
    expect(inThreadPast).toBeInstanceOf(RangeError);
    expect(inThreadPast.message).toMatch(/not computed by this model/);

    model.releaseKv(kept.kv!);
    model.releaseKv(kept.kv!);
    expect(await gauge(), 'released once, counted once').toBe(before);
    expect((await model.heldKv()).bytes).toBe(before);
    const released = await failure(model.forward([row(seq, 6, 8, { past: kept.kv })]));
    expect(released).toBeInstanceOf(RangeError);
    expect(released.message).toMatch(/not held by this model/);
    await expect(model.readKv(kept.kv!)).rejects.toThrow(/not held/);
  });

  it('a graph that does not fit the manifest fails to open with the in-thread message', async () => {
    const bad: ModelSpec = { ...SPEC, numLayers: 3 };
    const want = await failure(OnnxLogprobModel.open(POLICY, 'm/policy.onnx', bad, CPU));
    const got = await failure(WorkerLogprobModel.open(POLICY, 'm/policy.onnx', bad, CPU));
    expect(want.message).toMatch(/num_layers 3/);
    expect(got.message).toBe(want.message);
    const missing = await failure(WorkerLogprobModel.open(join(BUNDLES, 'nope.onnx'), 'm/nope.onnx', SPEC, CPU));
    expect(missing.message).toBe((await failure(OnnxLogprobModel.open(join(BUNDLES, 'nope.onnx'), 'm/nope.onnx', SPEC, CPU))).message);
  });

  it('a failing call rejects with the same class and message, and the model keeps working', async () => {
    const rows: ForwardRow[] = [{ tokens: [1, 2, 500], targets: [2, 3, 4] }];
    const want = await failure(inThread.forward(rows));
    const got = await failure(model.forward(rows));
    expect(want).toBeInstanceOf(RangeError);
    expect(got).toBeInstanceOf(RangeError);
    expect(got.message).toBe(want.message);
    const ok = [{ tokens: [1, 2, 3], targets: [2, 3, 4] }];
    await expectSameResults(await model.forward(ok), model, await inThread.forward(ok), inThread, 'after a failure');
  });

  it('a request already cancelled is never sent; a batch cancelled while queued in the CPU lane is dropped at its turn', async () => {
    const before = model.callsSent;
    const gone = new AbortController();
    gone.abort();
    const err = await failure(model.forward([{ tokens: [1, 2], targets: [2, 3] }], gone.signal));
    expect(err).toBeInstanceOf(PrmError);
    expect((err as PrmError).code).toBe(ErrorCode.CLIENT_CLOSED);

    // Behind a running batch in the CPU lane, then cancelled before its turn.
    const pair = new ModelPair(model, null);
    const busy = pair.forward(Array.from({ length: 32 }, () => ({ tokens: new Array(100).fill(5), targets: new Array(100).fill(6) })));
    const later = new AbortController();
    const queued = pair.forward([{ tokens: [1, 2], targets: [2, 3] }], later.signal);
    later.abort(new PrmError(ErrorCode.DEADLINE_EXCEEDED, 'too late'));
    expect(((await failure(queued)) as PrmError).code).toBe(ErrorCode.DEADLINE_EXCEEDED);
    await busy;
    expect(model.callsSent).toBe(before + 1);
  });

  it('reports the execution provider and its log lines as the in-thread engine does', async () => {
    for (const device of ['cpu', 'auto'] as const) {
      const lines = { main: [] as unknown[], worker: [] as unknown[] };
      const rec = (into: unknown[]): Logger => {
        const at = (level: string) => (obj: Record<string, unknown>, msg: string) => into.push({ level, msg, obj });
        return { info: at('info'), warn: at('warn'), error: at('error') };
      };
      const m = await OnnxLogprobModel.open(POLICY, 'm/policy.onnx', SPEC, { device, logger: rec(lines.main) });
      const w = await WorkerLogprobModel.open(POLICY, 'm/policy.onnx', SPEC, { device, logger: rec(lines.worker) });
      expect(w.executionProvider).toBe(m.executionProvider);
      expect(lines.worker).toEqual(lines.main);
      expect(lines.worker.length).toBeGreaterThan(0);
      await Promise.all([m.dispose(), w.dispose()]);
    }
  });

  it('dispose ends the worker: later calls fail as on a disposed in-thread model', async () => {
    const m = await WorkerLogprobModel.open(POLICY, 'm/policy.onnx', SPEC, CPU);
    await m.dispose();
    await m.dispose();
    await expect(m.forward([{ tokens: [1], targets: [2] }])).rejects.toThrow('forward on a disposed model');
  });
});
