/**
 * The queue in front of the engine. Callers submit rows and await their results; one loop forms
 * batches and runs them one at a time on the engine (a second batch would only fight the first
 * for the same cores).
 *
 * - A batch closes when its padded cost reaches the token budget, when the oldest row has waited
 *   `maxWaitMs`, or when the engine becomes free with rows already waiting (under load the queue
 *   fills while the engine works, so no extra wait is added then).
 * - Each entry carries its own resolver, enqueue time and abort signal. An entry whose client went
 *   away is removed at once and never reaches the engine.
 * - The queue is bounded in rows: a full queue rejects with OVERLOADED and a Retry-After hint
 *   instead of growing without bound.
 */
import { abortError } from '../abort.js';
import { ErrorCode, PrmError } from '../errors.js';
import { metrics } from '../metrics.js';
import { selectBatch } from './select-batch.js';

export interface BatcherOptions {
  /** Padded-token budget of one batch (rows × longest row). */
  maxBatchTokens: number;
  /** Output bytes of one pass; each bundle's pipeline turns it into a token budget (token-budget.ts). */
  maxBatchBytes?: number;
  maxRows: number;
  /** Largest padded share of a batch (0–1); rows that would pad more wait for the next batch. Default 1 (no cap). */
  maxPaddingFraction?: number;
  maxWaitMs: number;
  /** Rows allowed to wait; more are rejected. */
  maxQueueRows: number;
}

/** Runs one batch; results in job order. */
export type BatchRunner<J, R> = (jobs: J[]) => Promise<R[]>;

interface Entry<J, R> {
  job: J;
  length: number;
  enqueuedAt: number;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class Batcher<J, R> {
  private readonly queue: Entry<J, R>[] = [];
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** When the engine last became free: the wait for more rows restarts then (see schedule). */
  private freedAt = 0;

  constructor(
    private readonly run: BatchRunner<J, R>,
    private readonly lengthOf: (job: J) => number,
    private readonly opts: BatcherOptions,
  ) {}

  get depth(): number {
    return this.queue.length;
  }

  submit(job: J, signal?: AbortSignal): Promise<R> {
    if (this.closed) return Promise.reject(new PrmError(ErrorCode.NOT_READY, 'the model is shutting down'));
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.queue.length >= this.opts.maxQueueRows) {
      // Counted once per request where the request fails (score-request.ts), not per row.
      return Promise.reject(
        new PrmError(ErrorCode.OVERLOADED, `the scoring queue is full (${this.opts.maxQueueRows} rows)`, { retryAfterS: 1 }),
      );
    }
    return new Promise<R>((resolve, reject) => {
      const entry: Entry<J, R> = { job, length: this.lengthOf(job), enqueuedAt: performance.now(), resolve, reject, signal };
      if (signal) {
        entry.onAbort = () => {
          const i = this.queue.indexOf(entry);
          if (i >= 0) {
            this.queue.splice(i, 1);
            metrics.queueDepth.set(this.queue.length);
            metrics.rowsDropped.inc({ reason: abortError(signal).code.toLowerCase() });
            reject(abortError(signal));
          }
        };
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.queue.push(entry);
      metrics.queueDepth.set(this.queue.length);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    // Wait from the later of the oldest row's arrival and the end of the previous batch: requests
    // that arrived while a batch ran still need event-loop turns to be parsed and queued, and
    // choosing at once would send them in batches of one or two.
    const waited = performance.now() - Math.max(this.queue[0].enqueuedAt, this.freedAt);
    const queuedTokens = this.queue.reduce((s, e) => s + e.length, 0);
    if (waited >= this.opts.maxWaitMs || queuedTokens >= this.opts.maxBatchTokens || this.opts.maxWaitMs <= 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      void this.runNext();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, this.opts.maxWaitMs - waited);
    }
  }

  private async runNext(): Promise<void> {
    this.running = true;
    const pick = selectBatch(this.queue, this.opts.maxBatchTokens, this.opts.maxRows, 0, this.opts.maxPaddingFraction ?? 1);
    const picked = new Set(pick.indices);
    const batch = pick.indices.map((i) => this.queue[i]);
    for (let i = this.queue.length - 1; i >= 0; i--) if (picked.has(i)) this.queue.splice(i, 1);
    metrics.queueDepth.set(this.queue.length);
    const started = performance.now();
    for (const e of batch) {
      e.signal?.removeEventListener('abort', e.onAbort!);
      metrics.queueWait.observe((started - e.enqueuedAt) / 1000);
    }
    metrics.batchRows.observe(batch.length);
    metrics.batchTokens.observe(pick.paddedTokens);
    metrics.batchPaddedTokens.inc(pick.paddedTokens);
    metrics.batchRealTokens.inc(pick.realTokens);
    metrics.paddingFraction.observe(pick.paddedTokens > 0 ? 1 - pick.realTokens / pick.paddedTokens : 0);
    try {
      const results = await this.run(batch.map((e) => e.job));
      batch.forEach((e, i) => e.resolve(results[i]));
    } catch (err) {
      for (const e of batch) e.reject(err);
    } finally {
      this.running = false;
      if (this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
      this.freedAt = performance.now();
      this.schedule();
    }
  }

  /** Resolves when nothing is queued or running (graceful shutdown). */
  async drain(): Promise<void> {
    if (!this.running && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Rejects everything still queued; the batch in flight finishes. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const e of this.queue.splice(0)) {
      e.signal?.removeEventListener('abort', e.onAbort!);
      e.reject(new PrmError(ErrorCode.NOT_READY, 'the model is shutting down'));
    }
    metrics.queueDepth.set(0);
  }
}
