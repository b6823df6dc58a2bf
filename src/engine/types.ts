/**
 * The engine boundary. The scorer, batcher and caches talk only to `LogprobModel`, so they can be
 * tested without onnxruntime and a second backend can be added without touching them.
 */

/**
 * Past key/values of one sequence as held by the model that computed them. Callers see only its
 * length and size and hand it back as a row's past to the same model: a model running in a worker
 * thread keeps the arrays there (worker-model.ts), so a cached prefix never crosses threads.
 * Every handle a model returns must be given back with `releaseKv` once no longer needed.
 */
export interface KvHandle {
  /** Number of token positions covered. */
  readonly length: number;
  /** Bytes the model holds for it (bounds the KV cache). */
  readonly bytes: number;
}

/**
 * The arrays behind a handle: per layer, a [heads, n, headDim] row-major array of its own n
 * positions. With a `parent`, positions [0, parent.length) are the parent's first ones and the own
 * arrays hold only the rest: extending a cached trace by a step then stores the step, not the whole
 * trace again (kv-chain.ts reads across the links).
 */
export interface KvState extends KvHandle {
  readonly keys: KvArray[];
  readonly values: KvArray[];
  readonly parent?: { readonly kv: KvState; readonly length: number };
}

/**
 * `bytes` counts the own arrays and the whole parent (all it keeps alive, also positions past the
 * link's length): an upper bound on what holding this KV retains, so caches bounded by it never
 * exceed their budget (positions shared by the extensions of one trace count in each).
 */
export function makeKv(length: number, keys: KvArray[], values: KvArray[], parent?: KvState['parent']): KvState {
  let bytes = 0;
  for (const k of keys) bytes += k.byteLength;
  for (const v of values) bytes += v.byteLength;
  if (parent === undefined || parent.length === 0) return { length, bytes, keys, values };
  bytes += parent.kv.bytes;
  return { length, bytes, keys, values, parent };
}

/** The arrays of a handle passed to an in-thread model; anything else is a caller's mistake. */
export function asKvState(h: KvHandle): KvState {
  const kv = h as Partial<KvState>;
  if (!Array.isArray(kv.keys) || !Array.isArray(kv.values)) {
    throw new RangeError('a row\'s past is not key/value arrays of this model (a handle of another model?)');
  }
  return h as KvState;
}

/** What a graph outputs for scoring: full logits, or the log-probs of given targets (ARCHITECTURE.md §2). */
export type GraphFlavour = 'logits' | 'logprobs';
export const GRAPH_FLAVOURS: readonly GraphFlavour[] = ['logits', 'logprobs'];

/** One row of a forward pass. */
export interface ForwardRow {
  /** Tokens fed this pass, at positions past.length .. past.length + tokens.length - 1. */
  readonly tokens: ArrayLike<number>;
  /**
   * For each fed token, the id whose log-prob is wanted at that position (normally the next token),
   * or -1 when none is wanted (the result then holds NaN there).
   */
  readonly targets: ArrayLike<number>;
  /** KV of the tokens before `tokens`; absent means the row starts at position 0. */
  readonly past?: KvHandle;
  /**
   * Use only the first `pastLength` positions of `past` (default: all of it). Causal attention
   * makes the first m positions of a longer past exactly the KV of its first m tokens, so a cached
   * trace serves every shorter prefix without a copy.
   */
  readonly pastLength?: number;
  /** Return the KV of past + tokens (for the KV cache). */
  readonly keepKv?: boolean;
  /**
   * Also return the first `keepKvPrefix` positions (past included) as a compact KV of their own
   * (`prefixKv`): a prompt's entry then holds only the prompt, not the whole trace it came with.
   */
  readonly keepKvPrefix?: number;
}

export interface ForwardResult {
  /** log P(targets[i] | everything up to and including tokens[i]); NaN where targets[i] = -1. */
  readonly logprobs: Float32Array;
  readonly kv?: KvHandle;
  /** With `keepKvPrefix`: the KV of that many first positions. */
  readonly prefixKv?: KvHandle;
}

/** Wall time of one forward pass by stage, ms: rows into padded inputs, onnxruntime, results out. */
export interface PassTimes {
  packMs: number;
  runMs: number;
  unpackMs: number;
}

/**
 * Element type of a model's KV cache. float16 values travel as their raw bits in a Uint16Array
 * (onnxruntime-node's float16 tensors; Node 20 has no Float16Array): the engine only copies KV,
 * never computes with it, so the bits are all it needs.
 */
export type KvDtype = 'float32' | 'float16';
export const KV_DTYPES: readonly KvDtype[] = ['float32', 'float16'];
export type KvArray = Float32Array | Uint16Array;

/** A zeroed KV array of `n` elements of `dtype`. */
export function kvArray(dtype: KvDtype, n: number): KvArray {
  return dtype === 'float16' ? new Uint16Array(n) : new Float32Array(n);
}

/** A zeroed array of the same element type as `like`. */
export function kvArrayLike(like: KvArray, n: number): KvArray {
  return like instanceof Uint16Array ? new Uint16Array(n) : new Float32Array(n);
}

export interface ModelShape {
  readonly numLayers: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
  /** Default float32. */
  readonly kvDtype?: KvDtype;
}

export interface LogprobModel {
  readonly shape: ModelShape;
  /** Execution provider actually in use ("cpu", "cuda", ...). */
  readonly executionProvider: string;
  /** Runs all rows as one padded batch (or as few as the backend needs); results in row order. */
  forward(rows: readonly ForwardRow[], signal?: AbortSignal): Promise<ForwardResult[]>;
  /** Frees a handle's memory; the handle must not be used again. No-op once the model is disposed. */
  releaseKv(kv: KvHandle): void;
  /** A copy of a handle's arrays (tests, diagnostics). */
  readKv(kv: KvHandle): Promise<KvState>;
  dispose(): Promise<void>;
}
