/**
 * The engine boundary. The scorer, batcher and caches talk only to `LogprobModel`, so they can be
 * tested without onnxruntime and a second backend can be added without touching them.
 */

/** Past key/values of one sequence: per layer, a [heads, length, headDim] row-major array. */
export interface KvState {
  /** Number of token positions covered. */
  readonly length: number;
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
}

/** Bytes held by a KV state (used to bound the tier-2 cache). */
export function kvBytes(kv: KvState): number {
  let n = 0;
  for (const k of kv.keys) n += k.byteLength;
  for (const v of kv.values) n += v.byteLength;
  return n;
}

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
  readonly past?: KvState;
  /** Return the KV of past + tokens (for the tier-2 cache). */
  readonly keepKv?: boolean;
}

export interface ForwardResult {
  /** log P(targets[i] | everything up to and including tokens[i]); NaN where targets[i] = -1. */
  readonly logprobs: Float32Array;
  readonly kv?: KvState;
}

export interface ModelShape {
  readonly numLayers: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
}

export interface LogprobModel {
  readonly shape: ModelShape;
  /** Execution provider actually in use ("cpu", "cuda", ...). */
  readonly executionProvider: string;
  /** Runs all rows as one padded batch (or as few as the backend needs); results in row order. */
  forward(rows: readonly ForwardRow[], signal?: AbortSignal): Promise<ForwardResult[]>;
  dispose(): Promise<void>;
}
