/**
 * /get_reward batches larger than one scoring chunk are worked on LARGE_BATCHES_AT_ONCE (default
 * one) at a time, the others waiting in arrival order. Their per-sample work (splitting,
 * tokenizing, cache keys, rewards, the answer) all runs on the one event loop, so working on
 * sixteen of them side by side finishes none sooner than one after another: it only keeps sixteen
 * batches' intermediate data alive together, and the garbage collector's pauses grow with it
 * (docs/reliability.md, "Many requests at once").
 *
 * A waiting batch leaves as soon as its request's signal fires (deadline, client gone), so a dead
 * request neither holds its place nor keeps its body alive until its turn. (p-queue, the usual
 * library, keeps an aborted task queued until its turn in the versions that run on Node 20.)
 */
import { metrics } from '../metrics.js';

export class LargeBatches {
  private working = 0;
  /** Starts of the batches waiting, in arrival order (at most MAX_CONCURRENT_REQUESTS of them). */
  private readonly waiting: (() => void)[] = [];

  constructor(readonly atOnce: number) {}

  /**
   * Waits until fewer than `atOnce` batches are being worked on and every batch that came earlier
   * has started; rejects with the signal's reason if the signal fires first. The function it
   * resolves to ends the batch's turn (calls after the first do nothing): the route calls it once
   * the answer is sent or the request has failed, since the batch's data is alive until then.
   */
  async enter(signal: AbortSignal): Promise<() => void> {
    await this.turn(signal);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.working--;
      this.waiting.shift()?.();
    };
  }

  private turn(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.working < this.atOnce && this.waiting.length === 0) {
      this.working++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const start = () => {
        signal.removeEventListener('abort', leave);
        this.working++;
        this.report();
        resolve();
      };
      const leave = () => {
        this.waiting.splice(this.waiting.indexOf(start), 1);
        this.report();
        reject(signal.reason);
      };
      this.waiting.push(start);
      signal.addEventListener('abort', leave, { once: true });
      this.report();
    });
  }

  private report(): void {
    metrics.largeBatchesWaiting.set(this.waiting.length);
  }
}
