/**
 * One forward pass at a time on the CPU execution provider, across every model of the process.
 *
 * Each onnxruntime session has its own intra-op thread pool, sized to the cores by default, and its
 * threads spin while they wait for work. When every model ran on the main thread, passes were
 * serialised for free; with one worker per model, a policy and a reference running at once would
 * put twice as many busy threads on the same cores and slow both down. On a GPU the passes are
 * queued on the device instead, so CUDA models do not take this lane and do run concurrently.
 */
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
