/**
 * The queue in front of the engine. Callers submit rows and await their results; one loop forms
 * batches and runs them one at a time on the engine (a second batch would only fight the first
 * for the same cores).
 *
 * - A batch closes when its padded cost reaches the token budget, when the oldest row has waited
 *   `maxWaitMs`, or when the engine becomes free with rows already waiting (under load the queue
 *   fills while the engine works, so no extra wait is added then).
 * - A batch is chosen from the rows at the head of the queue, four batches' worth
 *   (select-batch.ts, candidateWindow): rows go out of arrival order only that far.
 * - Each entry carries its own resolver, enqueue time and abort signal. An entry whose client went
 *   away is removed at once and never reaches the engine.
 * - A request is admitted as a whole (`reserve`, queue-admission.ts): room for all its rows is held
 *   before the first is queued, and a request the backlog would make late is refused at once
 *   with OVERLOADED and Retry-After; the queue never grows past its row bound.
 */
import { abortError } from '../abort.js';
import { ErrorCode, PrmError } from '../errors.js';
import { metrics } from '../metrics.js';
import { queueRefusal, type QueueLoad } from './queue-admission.js';
import { candidateWindow, selectBatch } from './select-batch.js';
import { TokenRate } from './token-rate.js';

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

/**
 * Room held in the queue for one admitted request's rows until they are submitted, and the
 * request's place in line: its rows are queued as of its admission, so rows that can only be
 * submitted later (those waiting for a shared prompt's pass) do not go to the back of the queue
 * and wait through the backlog a second time.
 */
export class Reservation {
  readonly admittedAt = performance.now();

  constructor(
    public rows: number,
    public tokens: number,
    private readonly onRelease: (r: Reservation) => void,
  ) {}

  /** Gives back what was not used (the request is done, or failed before all rows were queued). */
  release(): void {
    this.onRelease(this);
    this.rows = 0;
    this.tokens = 0;
  }
}

export class Batcher<J, R> {
  private readonly queue: Entry<J, R>[] = [];
  /** Tokens of the queued rows, of the rows reserved but not yet queued, and of the running batch. */
  private queuedTokens = 0;
  private readonly reserved = { rows: 0, tokens: 0 };
  private runningTokens = 0;
  /** The engine's measured pace, for admission (queue-admission.ts). */
  readonly rate = new TokenRate();
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

  /** What is ahead of a request arriving now: rows that take queue room, tokens that take engine time. */
  get load(): QueueLoad {
    return { rows: this.queue.length + this.reserved.rows, tokens: this.queuedTokens + this.reserved.tokens + this.runningTokens / 2 };
  }

  /**
   * Admits a request's rows as a whole, or refuses it (OVERLOADED, or DEADLINE_EXCEEDED when the
   * request alone needs more time than it has): the room is held until its rows are submitted
   * with the reservation, or released. Counted once per request where the request fails
   * (score-request.ts), not per row.
   */
  reserve(rows: number, tokens: number, deadlineAt?: number): Reservation {
    const refusal = this.refusalOf(rows, tokens, deadlineAt);
    if (refusal) throw refusal;
    this.reserved.rows += rows;
    this.reserved.tokens += tokens;
    return new Reservation(rows, tokens, (r) => {
      this.reserved.rows -= r.rows;
      this.reserved.tokens -= r.tokens;
    });
  }

  /**
   * The refusal a request due by `deadlineAt` would get on the backlog alone, whatever its own
   * size (asked before it is tokenized, or before its body is read); null when it may go on.
   */
  backlogRefusal(deadlineAt: number | undefined): PrmError | null {
    return this.refusalOf(0, 0, deadlineAt);
  }

  private refusalOf(rows: number, tokens: number, deadlineAt: number | undefined): PrmError | null {
    if (this.closed) return new PrmError(ErrorCode.NOT_READY, 'the model is shutting down');
    return queueRefusal(this.load, { rows, tokens, deadlineAt, now: performance.now() }, this.opts.maxQueueRows, this.rate);
  }

  /** Queues one row; with a reservation it takes the room held for it instead of asking for room. */
  submit(job: J, signal?: AbortSignal, reservation?: Reservation): Promise<R> {
    if (this.closed) return Promise.reject(new PrmError(ErrorCode.NOT_READY, 'the model is shutting down'));
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const length = this.lengthOf(job);
    if (reservation && reservation.rows > 0) this.takeFrom(reservation, length);
    else if (this.queue.length + this.reserved.rows >= this.opts.maxQueueRows) {
      return Promise.reject(new PrmError(ErrorCode.OVERLOADED, `the scoring queue is full (${this.opts.maxQueueRows} rows)`, { retryAfterS: 1 }));
    }
    return new Promise<R>((resolve, reject) => {
      const entry: Entry<J, R> = { job, length, enqueuedAt: reservation?.admittedAt ?? performance.now(), resolve, reject, signal };
      if (signal) {
        entry.onAbort = () => {
          if (this.remove(entry)) {
            metrics.rowsDropped.inc({ reason: abortError(signal).code.toLowerCase() });
            reject(abortError(signal));
          }
        };
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.enqueue(entry);
      this.queuedTokens += length;
      metrics.queueDepth.set(this.queue.length);
      this.schedule();
    });
  }

  /** Into the queue in order of enqueuedAt: at the back, or at its request's place in line. */
  private enqueue(entry: Entry<J, R>): void {
    let at = this.queue.length;
    while (at > 0 && this.queue[at - 1].enqueuedAt > entry.enqueuedAt) at--;
    this.queue.splice(at, 0, entry);
  }

  private takeFrom(reservation: Reservation, length: number): void {
    const tokens = Math.min(reservation.tokens, length);
    reservation.rows--;
    reservation.tokens -= tokens;
    this.reserved.rows--;
    this.reserved.tokens -= tokens;
  }

  private remove(entry: Entry<J, R>): boolean {
    const i = this.queue.indexOf(entry);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    this.queuedTokens -= entry.length;
    metrics.queueDepth.set(this.queue.length);
    return true;
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    // Wait from the later of the oldest row's arrival and the end of the previous batch: requests
    // that arrived while a batch ran still need event-loop turns to be parsed and queued, and
    // choosing at once would send them in batches of one or two.
    const waited = performance.now() - Math.max(this.queue[0].enqueuedAt, this.freedAt);
    if (waited >= this.opts.maxWaitMs || this.queuedTokens >= this.opts.maxBatchTokens || this.opts.maxWaitMs <= 0) {
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
    const pool = this.queue.slice(0, candidateWindow(this.queue, this.opts.maxBatchTokens));
    const pick = selectBatch(pool, this.opts.maxBatchTokens, this.opts.maxRows, 0, this.opts.maxPaddingFraction ?? 1);
    const picked = new Set(pick.indices);
    const batch = pick.indices.map((i) => this.queue[i]);
    for (let i = this.queue.length - 1; i >= 0; i--) if (picked.has(i)) this.queue.splice(i, 1);
    this.queuedTokens -= pick.realTokens;
    this.runningTokens = pick.realTokens;
    metrics.queueDepth.set(this.queue.length);
    // The pace admission needs is how fast a backlog drains, and a backlog drains in batches that
    // leave rows waiting. A batch that took all there was (a lone request, a shared prompt pass of
    // a few tokens) is mostly fixed cost per pass: counted in, it would make a cold or idle engine
    // look many times slower than it is, and refuse a lone large request as overloaded.
    const drainsBacklog = this.queue.length > 0;
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
      if (drainsBacklog) this.rate.observe(pick.realTokens, (performance.now() - started) / 1000);
      batch.forEach((e, i) => e.resolve(results[i]));
    } catch (err) {
      for (const e of batch) e.reject(err);
    } finally {
      this.running = false;
      this.runningTokens = 0;
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
    this.queuedTokens = 0;
    metrics.queueDepth.set(0);
  }
}
