/**
 * Worker-thread entry of one model (see worker-model.ts): opens the onnxruntime session with the
 * in-thread engine (OnnxLogprobModel, so both modes run the very same code) and answers forward
 * requests. onnxruntime-node runs a session synchronously on the thread that calls it; here that
 * thread is this worker, so the service's event loop keeps running during a forward pass.
 *
 * Messages are handled strictly one after the other: a `close` must not release the session while
 * an earlier forward pass still uses it, and a `release` must not free a past a pass still reads.
 * Key/values stay here, in the store, and cross only by number (protocol.ts).
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { flattenKv } from '../kv-chain.js';
import type { Logger } from '../../logger.js';
import { OnnxLogprobModel } from '../onnx-model.js';
import { makeKv, type ForwardRow, type KvState, type PassTimes } from '../types.js';
import { WorkerKvStore } from './kv-store.js';
import { lowerThisThreadsPriority } from './thread-niceness.js';
import {
  kvTransferList, resultTransferList, toWireError,
  type FromWorker, type LogLevel, type ToWorker, type WireResult, type WireRow, type WorkerInit,
} from './protocol.js';

if (parentPort === null) throw new Error('onnx-worker runs only as a worker thread');
const port: MessagePort = parentPort;
const init = workerData as WorkerInit;

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

/** Log lines go to the main thread's logger, so they read exactly as in the in-thread mode. */
function logAt(level: LogLevel) {
  return (obj: Record<string, unknown>, msg: string): void => {
    try {
      post({ type: 'log', level, obj, msg });
    } catch {
      // A field that cannot be cloned (a function, a native handle) must not lose the line.
      post({ type: 'log', level, obj: { detail: String(obj) }, msg });
    }
  };
}
const logger: Logger = { info: logAt('info'), warn: logAt('warn'), error: logAt('error') };
const store = new WorkerKvStore();
/** Stage times of the last pass, sent with its result (metrics live on the main thread). */
let lastTimes: PassTimes | undefined;

function engineRow(r: WireRow): ForwardRow {
  const past = r.past === undefined ? undefined : store.get(r.past);
  return { tokens: r.tokens, targets: r.targets, past, pastLength: r.pastLength, keepKv: r.keepKv, keepKvPrefix: r.keepKvPrefix };
}

async function handle(model: OnnxLogprobModel, m: ToWorker): Promise<void> {
  if (m.type === 'close') {
    try {
      await model.dispose();
    } catch (err) {
      logger.error({ model: init.label, reason: toWireError(err).message }, `${init.label}: releasing the onnxruntime session failed`);
    }
    post({ type: 'closed' });
    port.close();
    return;
  }
  if (m.type === 'release') {
    store.release(m.kvs);
    return;
  }
  if (m.type === 'kv-stats') {
    post({ type: 'kv-stats', id: m.id, stats: { handles: store.size, bytes: store.bytes } });
    return;
  }
  try {
    if (m.type === 'read-kv') {
      const kv = store.get(m.kv);
      // A compact copy of its own (the held arrays stay here; a linked KV is flattened).
      const flat = flattenKv(kv, kv.length, init.spec.numHeads, init.spec.headDim);
      const copy = flat !== kv ? flat : makeKv(kv.length, kv.keys.map((a) => a.slice()), kv.values.map((a) => a.slice()));
      post({ type: 'kv', id: m.id, kv: copy }, kvTransferList(copy));
      return;
    }
    lastTimes = undefined;
    const out = await model.forward(m.rows.map(engineRow));
    const results = out.map((r): WireResult => {
      const w: WireResult = { logprobs: r.logprobs };
      if (r.kv !== undefined) w.kv = store.hold(r.kv as KvState);
      if (r.prefixKv !== undefined) w.prefixKv = store.hold(r.prefixKv as KvState);
      return w;
    });
    post({ type: 'result', id: m.id, results, times: lastTimes }, resultTransferList(results));
  } catch (err) {
    post({ type: 'failed', id: m.id, error: toWireError(err) });
  }
}

/** Before the session starts: its onnxruntime threads inherit the niceness of this thread. */
function yieldCoresToHttpThread(): void {
  const niceness = init.session.engineNiceness ?? 0;
  const outcome = lowerThisThreadsPriority(niceness);
  if (!outcome.applied && niceness !== 0) {
    logger.warn({ model: init.label, niceness, reason: outcome.reason }, `${init.label}: the engine threads keep the process's priority`);
  }
}

async function open(): Promise<OnnxLogprobModel | null> {
  yieldCoresToHttpThread();
  try {
    return await OnnxLogprobModel.open(init.modelPath, init.label, init.spec, { ...init.session, logger }, (t) => {
      lastTimes = t;
    });
  } catch (err) {
    // Closing the port lets the thread end; the main thread rejects the open with this error.
    post({ type: 'open-failed', error: toWireError(err) });
    port.close();
    return null;
  }
}

void open().then((model) => {
  if (model === null) return;
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (m: ToWorker) => {
    chain = chain.then(() => handle(model, m));
  });
  post({ type: 'ready', executionProvider: model.executionProvider });
});
