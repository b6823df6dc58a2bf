/**
 * What the worker thread is for, and what happens when it dies:
 * - during a long forward pass the event loop keeps turning (in-thread, onnxruntime-node blocks it
 *   for the whole pass: about one timer tick per pass, however long);
 * - a worker killed mid-pass rejects the pending call and every later call with a clear error and
 *   a logged reason, while the process and the other models go on.
 */
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelSpec } from '../../src/engine/graph-interface.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import type { ForwardRow } from '../../src/engine/types.js';
import { WorkerLogprobModel } from '../../src/engine/worker-model.js';

const POLICY = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bundles'), 'tiny-logprobs', 'policy.onnx');
const SPEC: ModelSpec = { flavour: 'logprobs', numLayers: 2, numHeads: 2, headDim: 16, vocabSize: 99 };

/**
 * 256 rows of 200 tokens: about half a second on one core for the tiny model, hundreds of 1 ms
 * timer periods, so the assertion below has a wide margin on a slow or busy machine.
 */
const BIG: ForwardRow[] = Array.from({ length: 256 }, (_, r) => {
  const tokens = Array.from({ length: 200 }, (_, i) => (i * 7 + r) % 99);
  return { tokens, targets: tokens.map((t) => (t + 1) % 99) };
});

/** Interval ticks that fire while `work` is pending. */
async function ticksDuring<T>(work: Promise<T>): Promise<{ ticks: number; result: T }> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    const result = await work;
    return { ticks, result };
  } finally {
    clearInterval(timer);
  }
}

function recorder(): Logger & { errors: string[] } {
  const errors: string[] = [];
  return { info: () => {}, warn: () => {}, error: (_obj, msg) => errors.push(msg), errors };
}

describe('the event loop during a forward pass in worker mode', () => {
  let model: WorkerLogprobModel;
  beforeAll(async () => {
    model = await WorkerLogprobModel.open(POLICY, 'tiny/policy.onnx', SPEC, { device: 'cpu', intraOpThreads: 1, logger: silentLogger });
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('keeps firing timers while the batch runs', async () => {
    const { ticks, result } = await ticksDuring(model.forward(BIG));
    expect(result).toHaveLength(BIG.length);
    expect(result[0].logprobs.every((x) => Number.isFinite(x) && x <= 0)).toBe(true);
    expect(ticks).toBeGreaterThanOrEqual(5);
  });
});

describe('a worker that dies', () => {
  let victim: WorkerLogprobModel;
  let bystander: WorkerLogprobModel;
  const log = recorder();
  beforeAll(async () => {
    const opts = { device: 'cpu' as const, intraOpThreads: 1, logger: log };
    [victim, bystander] = await Promise.all([
      WorkerLogprobModel.open(POLICY, 'victim/policy.onnx', SPEC, opts),
      WorkerLogprobModel.open(POLICY, 'bystander/policy.onnx', SPEC, opts),
    ]);
  });
  afterAll(async () => {
    await Promise.all([victim?.dispose(), bystander?.dispose()]);
  });

  it('rejects the call in flight and every later call; the process and other models go on', async () => {
    const pending = victim.forward(BIG);
    // Wait until the call has been posted (it goes through the CPU lane first), then kill the thread.
    while (victim.inFlight === 0) await new Promise((r) => setImmediate(r));
    await victim.terminateWorker();

    const stopped = /^victim\/policy\.onnx: the inference worker stopped unexpectedly \(exit code \d+\); this model cannot score until its bundle is reloaded$/;
    await expect(pending).rejects.toThrow(stopped);
    await expect(victim.forward([{ tokens: [1, 2], targets: [2, 3] }])).rejects.toThrow(stopped);
    expect(log.errors).toEqual([expect.stringMatching(stopped)]);

    const [r] = await bystander.forward([{ tokens: [1, 2, 3], targets: [2, 3, 4] }]);
    expect(r.logprobs).toHaveLength(3);
    await victim.dispose();
    expect(log.errors).toHaveLength(1);
  });
});
