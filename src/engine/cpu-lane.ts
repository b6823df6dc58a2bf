/**
 * One batch at a time on the CPU execution provider, across every bundle of the process.
 *
 * A batch's policy and reference passes run at once, each in its own worker on its share of the
 * cores (load-bundle.ts splits the pass's threads between them): two single-threaded passes side
 * by side beat two two-threaded passes one after the other on short passes, which spend much of
 * their time handing work between threads (bench/NOTES.md #20). Two batches at once, of one bundle
 * or of two, would put twice as many busy threads on the same cores and slow both down, so batches
 * queue here. On a GPU the passes are queued on the device instead, so CUDA models skip the lane.
 */
import type { LogprobModel } from './types.js';

export class SerialLane {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `task` after every task queued before it has settled (fulfilled or rejected). */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => {});
    return result;
  }
}

export const cpuLane = new SerialLane();

/** Runs `task` in `cpuLane` when any of `models` runs on the CPU, at once otherwise. */
export function onCpuLane<T>(models: readonly (Pick<LogprobModel, 'executionProvider'> | null)[], task: () => Promise<T>): Promise<T> {
  return models.some((m) => m?.executionProvider === 'cpu') ? cpuLane.run(task) : task();
}
