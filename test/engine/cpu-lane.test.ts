/**
 * The CPU lane (one batch at a time across the process) and the split of a pass's threads between
 * a bundle's models, which is what lets the policy and reference of a batch run side by side.
 */
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadBundle } from '../../src/bundle/load-bundle.js';
import { onCpuLane, SerialLane } from '../../src/engine/cpu-lane.js';
import { threadsPerModel } from '../../src/engine/execution-provider.js';
import type { Logger } from '../../src/logger.js';

const BUNDLES = join(import.meta.dirname, '..', 'fixtures', 'bundles');

/** A promise settled from outside, to hold a task open while others queue behind it. */
function gate(): { promise: Promise<void>; open(): void; fail(err: Error): void } {
  let open = (): void => {};
  let fail = (_: Error): void => {};
  const promise = new Promise<void>((res, rej) => { open = res; fail = rej; });
  return { promise, open, fail };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('SerialLane', () => {
  it('starts a task only after every earlier one settled, a failed one included', async () => {
    const lane = new SerialLane();
    const started: string[] = [];
    const a = gate();
    const b = gate();
    const first = lane.run(async () => { started.push('a'); await a.promise; return 'a'; });
    const second = lane.run(async () => { started.push('b'); await b.promise; return 'b'; });
    const third = lane.run(async () => { started.push('c'); return 'c'; });
    await tick();
    expect(started).toEqual(['a']);
    a.fail(new Error('boom'));
    await expect(first).rejects.toThrow('boom');
    await tick();
    expect(started).toEqual(['a', 'b']);
    b.open();
    expect(await second).toBe('b');
    expect(await third).toBe('c');
    expect(started).toEqual(['a', 'b', 'c']);
  });
});

describe('onCpuLane', () => {
  it('queues tasks of CPU models and runs tasks of GPU-only models at once', async () => {
    const hold = gate();
    const cpu = { executionProvider: 'cpu' };
    const cuda = { executionProvider: 'cuda' };
    const started: string[] = [];
    const held = onCpuLane([cpu, null], async () => { started.push('held'); await hold.promise; });
    const queued = onCpuLane([cuda, cpu], async () => { started.push('mixed pair'); });
    const onGpu = onCpuLane([cuda, null], async () => { started.push('gpu'); });
    await onGpu;
    await tick();
    // The GPU task ran while the lane was held; the pair with a CPU model waits its turn.
    expect([...started].sort()).toEqual(['gpu', 'held']);
    hold.open();
    await held;
    await queued;
    expect(started[2]).toBe('mixed pair');
  });
});

describe('threads of a pass, split between the models', () => {
  it('divides the total evenly, at least one each, defaulting to the machine\'s cores', () => {
    expect(threadsPerModel(8, 2)).toBe(4);
    expect(threadsPerModel(5, 2)).toBe(2);
    expect(threadsPerModel(1, 2)).toBe(1);
    expect(threadsPerModel(6, 1)).toBe(6);
    expect(threadsPerModel(undefined, 1)).toBe(availableParallelism());
    expect(threadsPerModel(undefined, 2)).toBe(Math.max(1, Math.floor(availableParallelism() / 2)));
  });

  async function threadsLogged(engineThreads: 'worker' | 'main'): Promise<[unknown, unknown][]> {
    const logged: Record<string, unknown>[] = [];
    const logger: Logger = { info: (obj) => logged.push(obj), warn: () => {}, error: () => {} };
    const opts = { device: 'cpu' as const, intraOpThreads: 4, engineThreads, logger };
    const pair = await loadBundle(join(BUNDLES, 'tiny-logprobs'), opts);
    const single = await loadBundle(join(BUNDLES, 'tiny-ref-free'), opts);
    await pair.dispose();
    await single.dispose();
    return logged.filter((o) => 'intraOpThreads' in o).map((o) => [o.model, o.intraOpThreads]);
  }

  it('opens a bundle\'s policy and reference on half the threads each in worker threads, a reference-free policy on all', async () => {
    expect(await threadsLogged('worker')).toEqual(expect.arrayContaining([
      ['tiny-logprobs/policy.onnx', 2],
      ['tiny-logprobs/reference.onnx', 2],
      ['tiny-ref-free/policy.onnx', 4],
    ]));
  });

  it('gives each model all the threads on the main thread, where the two run one after the other', async () => {
    expect(await threadsLogged('main')).toEqual(expect.arrayContaining([
      ['tiny-logprobs/policy.onnx', 4],
      ['tiny-logprobs/reference.onnx', 4],
      ['tiny-ref-free/policy.onnx', 4],
    ]));
  });
});
