/**
 * `LogprobModel` whose onnxruntime session lives in a worker thread (PRM_ENGINE_THREADS=worker,
 * the default). onnxruntime-node runs a session synchronously on the calling thread: in-thread, a
 * forward pass of seconds froze the event loop, so health probes and /metrics stalled, cached
 * requests waited behind inference, and requests arriving meanwhile could not even be queued,
 * which split concurrent traffic into many small batches. Here the main thread only posts rows and
 * receives results; the worker (worker/onnx-worker.ts) runs the same OnnxLogprobModel code.
 *
 * - Key/values stay in the worker: a row's past and a result's KV are numbered handles (RemoteKv),
 *   released with a message when the caller lets go (protocol.ts, worker/kv-store.ts).
 * - Token ids are copied into the message; log-probs come back transferred.
 * - A request whose signal is already aborted is not sent; one aborted while its pass runs gets
 *   the abort error when the pass ends, as in-thread.
 * - On the CPU execution provider a batch's passes take one process-wide lane (cpu-lane.ts, entered by
 *   the caller: a batch's policy and reference run side by side in it).
 * - A worker that dies rejects its calls and every later call with a clear error, and is logged;
 *   the process goes on. dispose() releases the session in the worker, then ends the thread.
 */
import { Worker } from 'node:worker_threads';
import { countPassTimes, metrics } from '../metrics.js';
import { throwIfAborted } from '../abort.js';
import type { SessionOptions } from './execution-provider.js';
import type { ModelSpec } from './graph-interface.js';
import type { Logger } from '../logger.js';
import type { ForwardResult, ForwardRow, KvHandle, KvState, LogprobModel, ModelShape } from './types.js';
import { workerSourceScript } from './worker/source-script.js';
import { fromWireError, wireRows, workerSession, type FromWorker, type KvStats, type ToWorker, type WireKv, type WireResult, type WorkerInit } from './worker/protocol.js';

/**
 * Starts the worker thread: from dist/ (the image) the compiled onnx-worker.js beside this file;
 * from TypeScript source (tsx, tests) a script compiled from onnx-worker.ts (worker/source-script.ts).
 */
async function startWorker(init: WorkerInit): Promise<Worker> {
  const name = `onnx ${init.label}`;
  if (import.meta.url.endsWith('.ts')) return new Worker(await workerSourceScript(), { eval: true, workerData: init, name });
  return new Worker(new URL('./worker/onnx-worker.js', import.meta.url), { workerData: init, name });
}

interface Pending {
  resolve(value: never): void;
  reject(err: unknown): void;
}

/** A KV held by a worker: only its number crosses (see the module comment). */
class RemoteKv implements KvHandle {
  readonly id: number;
  readonly length: number;
  readonly bytes: number;
  /** Set by releaseKv: a second release must not count twice. */
  released = false;
  constructor(readonly owner: WorkerLogprobModel, w: WireKv) {
    this.id = w.id;
    this.length = w.length;
    this.bytes = w.bytes;
  }
}

export class WorkerLogprobModel implements LogprobModel {
  readonly shape: ModelShape;
  readonly executionProvider: string;
  private readonly pending = new Map<number, Pending>();
  /** Id of the next call; ids start at 1, so this minus one is the number of calls sent. */
  private nextId = 1;
  private disposed = false;
  /** Why the thread is gone (set when it exits); every later call fails with this message. */
  private stopped: Error | null = null;
  private lastError: Error | undefined;
  private onClosed: (() => void) | null = null;
  /** Handles released since the last flush; sent as one message at the end of the tick. */
  private releasing: number[] = [];
  /** Bytes of the handles given out and not released (prm_engine_kv_bytes). */
  private heldBytes = 0;

  private constructor(
    private readonly worker: Worker,
    private readonly label: string,
    shape: ModelShape,
    executionProvider: string,
    private readonly logger: Logger,
  ) {
    this.shape = shape;
    this.executionProvider = executionProvider;
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (err: Error) => (this.lastError = err));
    worker.on('messageerror', (err: Error) => logger.error({ model: label, reason: err.message }, `${label}: a message from the inference worker could not be read`));
    worker.on('exit', (code: number) => this.onExit(code));
    // An idle worker must not keep the process alive (an in-thread session does not either).
    worker.unref();
  }

  /**
   * Starts the worker and opens `modelPath` in it; rejects with the same error as
   * OnnxLogprobModel.open when the file or graph is wrong. Log lines of the open (the execution
   * provider chosen) reach `opts.logger` before this resolves.
   */
  static async open(modelPath: string, label: string, spec: ModelSpec, opts: SessionOptions): Promise<WorkerLogprobModel> {
    const init: WorkerInit = { modelPath, label, spec, session: workerSession(opts) };
    const worker = await startWorker(init);
    const { numLayers, numHeads, headDim, vocabSize, kvDtype } = spec;
    return new Promise((resolve, reject) => {
      let lastError: Error | undefined;
      const onMessage = (m: FromWorker): void => {
        if (m.type === 'log') opts.logger[m.level](m.obj, m.msg);
        else if (m.type === 'ready') {
          detach();
          resolve(new WorkerLogprobModel(worker, label, { numLayers, numHeads, headDim, vocabSize, kvDtype: kvDtype ?? 'float32' }, m.executionProvider, opts.logger));
        } else if (m.type === 'open-failed') {
          detach();
          worker.on('error', () => {});
          void worker.terminate();
          reject(fromWireError(m.error));
        }
      };
      const onError = (err: Error): void => {
        lastError = err;
      };
      const onExit = (code: number): void => {
        detach();
        const why = lastError ? `: ${lastError.message}` : '';
        reject(new Error(`${label}: the inference worker stopped before the model opened (exit code ${code}${why})`, { cause: lastError }));
      };
      const detach = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  async forward(rows: readonly ForwardRow[], signal?: AbortSignal): Promise<ForwardResult[]> {
    if (this.disposed) throw new Error('forward on a disposed model');
    throwIfAborted(signal);
    const results = await this.call(rows);
    throwIfAborted(signal);
    return results;
  }

  /** The number of a past this worker holds; anything else is a caller's mistake. */
  private pastId(kv: KvHandle): number {
    if (!(kv instanceof RemoteKv) || kv.owner !== this) {
      throw new RangeError(`${this.label}: a row's past was not computed by this model`);
    }
    return kv.id;
  }

  private async call(rows: readonly ForwardRow[]): Promise<ForwardResult[]> {
    const { rows: wire, transfer } = wireRows(rows, (kv) => this.pastId(kv));
    const results = await this.request<WireResult[]>((id) => ({ type: 'forward', id, rows: wire }), transfer);
    return results.map((r) => {
      const out: { logprobs: Float32Array; kv?: KvHandle; prefixKv?: KvHandle } = { logprobs: r.logprobs };
      if (r.kv !== undefined) out.kv = this.handle(r.kv);
      if (r.prefixKv !== undefined) out.prefixKv = this.handle(r.prefixKv);
      return out;
    });
  }

  /** Posts a numbered request and waits for its answer (result, kv or failed). */
  private request<T>(message: (id: number) => ToWorker, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.stopped !== null) return Promise.reject(new Error(this.stopped.message, { cause: this.stopped }));
    if (this.disposed) return Promise.reject(new Error('forward on a disposed model'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: never) => void, reject });
      if (this.pending.size === 1) this.worker.ref();
      try {
        this.post(message(id), transfer);
      } catch (err) {
        this.settle(id);
        reject(err);
      }
    });
  }

  private handle(w: WireKv): RemoteKv {
    this.countHeld(w.bytes);
    return new RemoteKv(this, w);
  }

  /** Held bytes, also as a gauge summed over every model of the same file (old and new versions). */
  private countHeld(delta: number): void {
    this.heldBytes += delta;
    metrics.engineKvBytes.inc({ model: this.label }, delta);
  }

  releaseKv(kv: KvHandle): void {
    if (this.disposed || this.stopped !== null) return;
    this.pastId(kv);
    const remote = kv as RemoteKv;
    if (remote.released) return;
    remote.released = true;
    this.countHeld(-remote.bytes);
    this.releasing.push(remote.id);
    if (this.releasing.length === 1) queueMicrotask(() => this.flushReleases());
  }

  /** How many KV handles (and bytes) the worker holds now, releases posted so far included. */
  heldKv(): Promise<KvStats> {
    this.flushReleases();
    return this.request<KvStats>((id) => ({ type: 'kv-stats', id }));
  }

  private flushReleases(): void {
    const kvs = this.releasing;
    this.releasing = [];
    if (kvs.length === 0 || this.disposed || this.stopped !== null) return;
    this.post({ type: 'release', kvs });
  }

  readKv(kv: KvHandle): Promise<KvState> {
    let n: number;
    try {
      n = this.pastId(kv);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.request<KvState>((id) => ({ type: 'read-kv', id, kv: n }));
  }

  private post(msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(msg, transfer);
  }

  /** Removes a call from the pending set; the thread may idle (unref) once none is left. */
  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
    return p;
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'log':
        this.logger[m.level](m.obj, m.msg);
        return;
      case 'result':
        if (m.times !== undefined) countPassTimes(this.label, m.times);
        this.settle(m.id)?.resolve(m.results as never);
        return;
      case 'kv':
        this.settle(m.id)?.resolve(m.kv as never);
        return;
      case 'kv-stats':
        this.settle(m.id)?.resolve(m.stats as never);
        return;
      case 'failed':
        this.settle(m.id)?.reject(fromWireError(m.error));
        return;
      case 'closed':
        this.onClosed?.();
        return;
      default:
        return;
    }
  }

  private onExit(code: number): void {
    // The thread's memory, KV included, is gone with it.
    this.countHeld(-this.heldBytes);
    const expected = this.disposed;
    const why = this.lastError ? `: ${this.lastError.message}` : '';
    this.stopped = expected
      ? new Error('forward on a disposed model')
      : new Error(
          `${this.label}: the inference worker stopped unexpectedly (exit code ${code}${why}); ` +
            'this model cannot score until its bundle is reloaded',
          { cause: this.lastError },
        );
    if (!expected) this.logger.error({ model: this.label, exitCode: code, reason: this.lastError?.message }, this.stopped.message);
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const p of calls) p.reject(this.stopped);
    this.onClosed?.();
  }

  /** Calls posted to the worker and not answered yet. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Requests (forward passes, KV reads) posted to the worker so far (a cancelled call must never count here). */
  get callsSent(): number {
    return this.nextId - 1;
  }

  /**
   * Ends the worker thread at once, as a crash would (for tests of that path): calls in flight
   * reject, later calls fail, nothing is released cleanly.
   */
  async terminateWorker(): Promise<void> {
    await this.worker.terminate();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.stopped === null) {
      // Release the session inside the worker first (device memory is freed by releasing it, not
      // by the thread ending). Passes already posted finish first: the worker handles messages in
      // order.
      const closed = new Promise<void>((resolve) => (this.onClosed = resolve));
      this.worker.ref();
      this.post({ type: 'close' });
      await closed;
    }
    await this.worker.terminate();
  }
}
