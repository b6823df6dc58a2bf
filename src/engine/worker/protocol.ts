/**
 * The messages between a WorkerLogprobModel (main thread) and its onnx-worker (one worker thread
 * per model), and the copying rules for what crosses:
 *
 * - Key/values never cross: the worker keeps every KV it computed in its store (kv-store.ts) and
 *   sends back a numbered handle; a row names its past by that number. Moving a long prefix's KV
 *   (tens of MB per row and pass for a 30M model) through messages cost more than the pass.
 * - Token ids going in are copied into fresh buffers that are transferred: the caller's arrays
 *   must never be detached, and a structured clone of a view would copy its whole buffer.
 * - Log-probs coming back are created by the worker for this call only, so their buffers are
 *   transferred without a copy.
 * - Errors cross as plain fields and are rebuilt with the same class and message, so callers see
 *   the same PrmError / RangeError / Error as from the in-thread engine.
 */
import { ErrorCode, PrmError } from '../../errors.js';
import type { SessionOptions } from '../execution-provider.js';
import type { ModelSpec } from '../graph-interface.js';
import type { ForwardRow, KvHandle, KvState, PassTimes } from '../types.js';

/** What the worker needs to open its session (workerData). The logger stays on the main thread. */
export interface WorkerInit {
  modelPath: string;
  label: string;
  spec: ModelSpec;
  session: Omit<SessionOptions, 'logger' | 'engineThreads'>;
}

/**
 * The session options a worker receives: all but the logger (a function cannot cross threads),
 * the thread choice and the bundle's load options.
 */
export function workerSession(opts: SessionOptions & { trustFingerprint?: boolean }): WorkerInit['session'] {
  const { logger: _logger, engineThreads: _threads, trustFingerprint: _trust, ...session } = opts;
  return session;
}

export type LogLevel = 'info' | 'warn' | 'error';

/** A forward row as posted: its past is the number of a KV held by the worker. */
export interface WireRow {
  tokens: ArrayLike<number>;
  targets: ArrayLike<number>;
  past?: number;
  pastLength?: number;
  keepKv?: boolean;
  keepKvPrefix?: number;
}

/** What a worker's KV store holds (diagnostics, leak tests). */
export interface KvStats {
  handles: number;
  bytes: number;
}

/** A KV the worker holds, as the main thread knows it. */
export interface WireKv {
  id: number;
  length: number;
  bytes: number;
}

export interface WireResult {
  logprobs: Float32Array;
  kv?: WireKv;
  prefixKv?: WireKv;
}

export type ToWorker =
  | { type: 'forward'; id: number; rows: WireRow[] }
  | { type: 'release'; kvs: number[] }
  | { type: 'read-kv'; id: number; kv: number }
  | { type: 'kv-stats'; id: number }
  | { type: 'close' };

export type FromWorker =
  | { type: 'log'; level: LogLevel; obj: Record<string, unknown>; msg: string }
  | { type: 'ready'; executionProvider: string }
  | { type: 'open-failed'; error: WireError }
  | { type: 'result'; id: number; results: WireResult[]; times?: PassTimes }
  | { type: 'kv'; id: number; kv: KvState }
  | { type: 'kv-stats'; id: number; stats: KvStats }
  | { type: 'failed'; id: number; error: WireError }
  | { type: 'closed' };

export interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: ErrorCode;
  retryAfterS?: number;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof PrmError) {
    return { name: err.name, message: err.message, stack: err.stack, code: err.code, retryAfterS: err.retryAfterS };
  }
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { name: 'Error', message: String(err) };
}

const ERROR_CLASSES: Record<string, new (message: string) => Error> = { RangeError, TypeError };

/** The error the caller sees; the worker's stack is kept, since that is where it happened. */
export function fromWireError(w: WireError): Error {
  let err: Error;
  if (w.code !== undefined) err = new PrmError(w.code, w.message, { retryAfterS: w.retryAfterS });
  else {
    const Cls = ERROR_CLASSES[w.name] ?? Error;
    err = new Cls(w.message);
    if (err.name !== w.name) err.name = w.name;
  }
  if (w.stack !== undefined) err.stack = `${w.stack}\n    (in the inference worker thread)`;
  return err;
}

/** A compact copy of token ids in a fresh buffer; a typed array keeps its type, so values stay exact. */
function copyIds(a: ArrayLike<number>): ArrayLike<number> {
  if (ArrayBuffer.isView(a)) return (a as unknown as Int32Array).slice();
  // Plain arrays: float64 keeps every value as given (non-integer ids must still fail validation).
  return Float64Array.from(a);
}

function addBuffer(set: Set<ArrayBuffer>, a: ArrayLike<number> | undefined): void {
  if (a !== undefined && ArrayBuffer.isView(a) && a.buffer instanceof ArrayBuffer) set.add(a.buffer);
}

/**
 * Rows as the worker receives them: token ids copied (the caller never sees them again), each
 * past replaced by its number (`pastId` throws for a handle this worker does not hold).
 */
export function wireRows(rows: readonly ForwardRow[], pastId: (kv: KvHandle) => number): { rows: WireRow[]; transfer: ArrayBuffer[] } {
  const buffers = new Set<ArrayBuffer>();
  const out = rows.map((r): WireRow => {
    const row: WireRow = { tokens: copyIds(r.tokens), targets: copyIds(r.targets), keepKv: r.keepKv };
    if (r.past !== undefined) row.past = pastId(r.past);
    if (r.pastLength !== undefined) row.pastLength = r.pastLength;
    if (r.keepKvPrefix !== undefined) row.keepKvPrefix = r.keepKvPrefix;
    addBuffer(buffers, row.tokens);
    addBuffer(buffers, row.targets);
    return row;
  });
  return { rows: out, transfer: [...buffers] };
}

/** The buffers of results made for one call (each listed once: a buffer cannot be transferred twice). */
export function resultTransferList(results: readonly WireResult[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const r of results) addBuffer(buffers, r.logprobs);
  return [...buffers];
}

/** The buffers of a KV copy sent to the main thread. */
export function kvTransferList(kv: KvState): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const a of [...kv.keys, ...kv.values]) addBuffer(buffers, a);
  return [...buffers];
}
