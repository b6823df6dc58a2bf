/**
 * The messages between a WorkerLogprobModel (main thread) and its onnx-worker (one worker thread
 * per model), and the copying rules for what crosses:
 *
 * - Rows going in are copied into fresh buffers that are transferred: a row's past KV may be held
 *   by the tier-2 cache (or be a view into a larger buffer), so the caller's arrays must never be
 *   detached, and a structured clone of a view would copy its whole underlying buffer.
 * - Results coming back are created by the worker for this call only, so their buffers are
 *   transferred without a copy.
 * - Errors cross as plain fields and are rebuilt with the same class and message, so callers see
 *   the same PrmError / RangeError / Error as from the in-thread engine.
 */
import { ErrorCode, PrmError } from '../../errors.js';
import type { SessionOptions } from '../execution-provider.js';
import type { ModelSpec } from '../graph-interface.js';
import type { ForwardResult, ForwardRow, KvState } from '../types.js';

/** What the worker needs to open its session (workerData). The logger stays on the main thread. */
export interface WorkerInit {
  modelPath: string;
  label: string;
  spec: ModelSpec;
  session: Omit<SessionOptions, 'logger' | 'engineThreads'>;
}

export type LogLevel = 'info' | 'warn' | 'error';

export type ToWorker = { type: 'forward'; id: number; rows: ForwardRow[] } | { type: 'close' };

export type FromWorker =
  | { type: 'log'; level: LogLevel; obj: Record<string, unknown>; msg: string }
  | { type: 'ready'; executionProvider: string }
  | { type: 'open-failed'; error: WireError }
  | { type: 'result'; id: number; results: ForwardResult[] }
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

function copyKv(kv: KvState): KvState {
  return { length: kv.length, keys: kv.keys.map((k) => k.slice()), values: kv.values.map((v) => v.slice()) };
}

function addBuffer(set: Set<ArrayBuffer>, a: ArrayLike<number> | undefined): void {
  if (a !== undefined && ArrayBuffer.isView(a) && a.buffer instanceof ArrayBuffer) set.add(a.buffer);
}

function addKv(set: Set<ArrayBuffer>, kv: KvState | undefined): void {
  if (kv === undefined) return;
  for (const k of kv.keys) addBuffer(set, k);
  for (const v of kv.values) addBuffer(set, v);
}

/** Rows as copies the caller never sees again, and the buffers to transfer with them. */
export function copyRowsForTransfer(rows: readonly ForwardRow[]): { rows: ForwardRow[]; transfer: ArrayBuffer[] } {
  const buffers = new Set<ArrayBuffer>();
  const out = rows.map((r): ForwardRow => {
    const row: ForwardRow = {
      tokens: copyIds(r.tokens),
      targets: copyIds(r.targets),
      past: r.past === undefined ? undefined : copyKv(r.past),
      keepKv: r.keepKv,
    };
    addBuffer(buffers, row.tokens);
    addBuffer(buffers, row.targets);
    addKv(buffers, row.past);
    return row;
  });
  return { rows: out, transfer: [...buffers] };
}

/** The buffers of results made for one call (each listed once: a buffer cannot be transferred twice). */
export function resultTransferList(results: readonly ForwardResult[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const r of results) {
    addBuffer(buffers, r.logprobs);
    addKv(buffers, r.kv);
  }
  return [...buffers];
}
