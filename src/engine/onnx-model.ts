/**
 * `LogprobModel` over onnxruntime-node, for both graph flavours (ARCHITECTURE.md §2):
 *   logprobs  the graph takes target_ids and returns target_logprobs [B, S]
 *   logits    the graph returns logits [B, S, V]; a second, tiny onnxruntime graph takes their
 *             log-softmax and gathers the targets (target-logprobs-graph.ts), several times
 *             faster than JavaScript at a large vocabulary
 * Rows are packed into one padded call (see pack-batch.ts); KV is returned per row, compact.
 */
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { throwIfAborted } from '../abort.js';
import { createSession, type SessionOptions } from './execution-provider.js';
import { checkGraphInterface, type GraphInterface, type ModelSpec } from './graph-interface.js';
import { halvesToFloats } from './float16.js';
import { TARGET_LOGPROBS_GRAPH } from './target-logprobs-graph.js';
import { flattenKv } from './kv-chain.js';
import { composeKv, emptyKv, packRows, pastLengthOf, unpackKv, type PackedBatch } from './pack-batch.js';
import {
  asKvState, kvArray, type ForwardResult, type ForwardRow, type KvArray, type KvDtype, type KvHandle, type KvState, type LogprobModel,
  type ModelShape, type PassTimes,
} from './types.js';

type Feeds = Record<string, Tensor>;

export class OnnxLogprobModel implements LogprobModel {
  readonly shape: ModelShape;
  readonly executionProvider: string;
  readonly graph: GraphInterface;
  private readonly session: InferenceSession;
  /** logits flavour: log-softmax + gather of the targets (null for logprobs graphs). */
  private readonly head: InferenceSession | null;
  private readonly onPass: (t: PassTimes) => void;
  /** Reused storage for the padded pasts of a pass (packRows); lent to one pass at a time. */
  private scratch: KvArray;
  private scratchLent = false;
  private disposed = false;

  private constructor(
    session: InferenceSession, head: InferenceSession | null, graph: GraphInterface, shape: ModelShape, ep: string, onPass: (t: PassTimes) => void,
  ) {
    this.session = session;
    this.head = head;
    this.graph = graph;
    this.shape = shape;
    this.scratch = kvArray(shape.kvDtype ?? 'float32', 0);
    this.executionProvider = ep;
    this.onPass = onPass;
  }

  /**
   * Opens `modelPath` and checks its graph against `spec`; `label` names the model in logs and
   * errors (e.g. "arith-tiny/policy.onnx"). Throws a descriptive Error when the graph does not fit.
   * `onPass` gets each pass's stage times (metrics on the main thread; a worker sends them there).
   */
  static async open(
    modelPath: string, label: string, spec: ModelSpec, opts: SessionOptions, onPass: (t: PassTimes) => void = () => {},
  ): Promise<OnnxLogprobModel> {
    const { session, executionProvider } = await createSession(modelPath, label, opts);
    let head: InferenceSession | null = null;
    try {
      const graph = checkGraphInterface(session, spec, label);
      const { numLayers, numHeads, headDim, vocabSize } = spec;
      const shape = { numLayers, numHeads, headDim, vocabSize, kvDtype: spec.kvDtype ?? 'float32' };
      if (graph.flavour === 'logits') head = await openHead(opts);
      return new OnnxLogprobModel(session, head, graph, shape, executionProvider, onPass);
    } catch (err) {
      await session.release();
      await head?.release();
      throw err;
    }
  }

  async forward(rows: readonly ForwardRow[], signal?: AbortSignal): Promise<ForwardResult[]> {
    if (this.disposed) throw new Error('forward on a disposed model');
    throwIfAborted(signal);
    checkKeepKvPrefix(rows);
    const results: ForwardResult[] = new Array(rows.length);
    // A row with no new tokens needs no compute (and an all-padding row could only add NaNs).
    const live: number[] = [];
    rows.forEach((r, i) => {
      if (r.tokens.length > 0) live.push(i);
      else results[i] = this.pastOnlyResult(r);
    });
    if (live.length === 0) return results;
    const liveRows = live.map((i) => rows[i]);
    const wantKv = liveRows.some((r) => r.keepKv || r.keepKvPrefix !== undefined);
    const started = performance.now();
    // Passes of one model are serial in the service; a concurrent one gets fresh storage.
    const lend = !this.scratchLent;
    if (lend) this.scratchLent = true;
    let out: InferenceSession.ReturnType;
    let packed: PackedBatch;
    let packedAt: number;
    try {
      packed = packRows(liveRows, this.shape, lend ? (n, dtype) => this.scratchOf(n, dtype) : undefined);
      packedAt = performance.now();
      out = await this.run(packed, wantKv);
    } finally {
      // onnxruntime has read the pasts (or failed): the storage can serve the next pass.
      if (lend) this.scratchLent = false;
    }
    const ranAt = performance.now();
    try {
      throwIfAborted(signal);
      const unpacked = await this.unpack(out, packed, liveRows, wantKv);
      unpacked.forEach((r, b) => (results[live[b]] = r));
      this.onPass({ packMs: packedAt - started, runMs: ranAt - packedAt, unpackMs: performance.now() - ranAt });
      return results;
    } finally {
      for (const t of Object.values(out)) t.dispose();
    }
  }

  /** Each live row's log-probs and, where asked for, its KV and its prefix's KV. */
  private async unpack(out: InferenceSession.ReturnType, packed: PackedBatch, rows: readonly ForwardRow[], wantKv: boolean): Promise<ForwardResult[]> {
    this.checkScoreDims(out[this.graph.scoreOutput], packed);
    const scores = await this.targetLogprobs(out[this.graph.scoreOutput], packed);
    const kvKeys: KvArray[] = [];
    const kvValues: KvArray[] = [];
    if (wantKv) {
      for (let l = 0; l < this.shape.numLayers; l++) {
        kvKeys.push(this.kvOutput(out, l, 'key', packed));
        kvValues.push(this.kvOutput(out, l, 'value', packed));
      }
    }
    // From the fed tokens' KV plus the row's past, or from `present` (past and new together).
    const rowKv = this.graph.newKvOutputs ? composeKv : unpackKv;
    return rows.map((row, b) => {
      const logprobs = this.readLogprobs(scores, packed, b, row);
      const kv = row.keepKv ? rowKv(kvKeys, kvValues, packed, this.shape, b, row) : undefined;
      // The prefix comes from the kept KV when there is one; else only the prefix is gathered.
      const n = row.keepKvPrefix;
      const prefixKv = n === undefined ? undefined
        : kv !== undefined ? this.firstPositions(kv, n) : rowKv(kvKeys, kvValues, packed, this.shape, b, row, n);
      return prefixKv === undefined ? { logprobs, kv } : { logprobs, kv, prefixKv };
    });
  }

  /** The KV of a row that feeds no tokens: its past (cut to pastLength), or none. */
  private pastOnly(r: ForwardRow): KvState {
    if (r.past === undefined) return emptyKv(this.shape.numLayers, this.kvDtype);
    return this.firstPositions(asKvState(r.past), pastLengthOf(r));
  }

  /** A compact copy of the first n positions of a KV (the KV itself when it is compact and n covers it). */
  private firstPositions(kv: KvState, n: number): KvState {
    return flattenKv(kv, n, this.shape.numHeads, this.shape.headDim);
  }

  private get kvDtype(): KvDtype {
    return this.shape.kvDtype ?? 'float32';
  }

  /**
   * The scratch storage, grown to at least n elements. It keeps its largest size (the largest
   * pass's pasts, which onnxruntime's own arena keeps the like of anyway).
   */
  private scratchOf(n: number, dtype: KvDtype): KvArray {
    if (this.scratch.length < n) this.scratch = kvArray(dtype, Math.ceil(n * 1.25));
    return this.scratch;
  }

  /** The score output as float32 values (float16 graphs may return it as half-precision bits). */
  private scoresOf(t: Tensor): Float32Array {
    return t.type === 'float16' ? halvesToFloats(t.data as Uint16Array) : (t.data as Float32Array);
  }

  /** [B, S] log-probs of the targets: the graph's own, or from its logits through the head graph. */
  private async targetLogprobs(scores: Tensor, p: PackedBatch): Promise<Float32Array> {
    if (this.head === null) return this.scoresOf(scores);
    const logits = new Tensor('float32', this.scoresOf(scores), [p.batch, p.seq, this.shape.vocabSize]);
    const targets = new Tensor('int64', p.targetIds, [p.batch, p.seq]);
    try {
      const out = await this.head.run({ logits, target_ids: targets });
      const lp = out.target_logprobs!;
      const data = (lp.data as Float32Array).slice();
      lp.dispose();
      return data;
    } finally {
      logits.dispose();
      targets.dispose();
    }
  }

  /** A row without new tokens: no log-probs; its KV (and prefix) come from its past alone. */
  private pastOnlyResult(row: ForwardRow): ForwardResult {
    const full = row.keepKv || row.keepKvPrefix !== undefined ? this.pastOnly(row) : undefined;
    const logprobs = new Float32Array(0);
    const kv = row.keepKv ? full : undefined;
    return row.keepKvPrefix === undefined ? { logprobs, kv } : { logprobs, kv, prefixKv: this.firstPositions(full!, row.keepKvPrefix) };
  }

  /** In-thread handles are the arrays themselves: the garbage collector frees them. */
  releaseKv(_kv: KvHandle): void {}

  async readKv(kv: KvHandle): Promise<KvState> {
    const state = asKvState(kv);
    return flattenKv(state, state.length, this.shape.numHeads, this.shape.headDim);
  }

  /** The one onnxruntime call; input tensors are released as soon as it returns. */
  private async run(p: PackedBatch, wantKv: boolean): Promise<InferenceSession.ReturnType> {
    const { batch: B, seq: S, past: P } = p;
    const { numLayers: L, numHeads: H, headDim: D } = this.shape;
    const feeds: Feeds = {
      input_ids: new Tensor('int64', p.inputIds, [B, S]),
      attention_mask: new Tensor('int64', p.attentionMask, [B, P + S]),
    };
    if (this.graph.hasPositionIds) feeds.position_ids = new Tensor('int64', p.positionIds, [B, S]);
    if (this.graph.flavour === 'logprobs') feeds.target_ids = new Tensor('int64', p.targetIds, [B, S]);
    for (let l = 0; l < L; l++) {
      feeds[`past_key_values.${l}.key`] = new Tensor(this.kvDtype, p.pastKeys[l], [B, H, P, D]);
      feeds[`past_key_values.${l}.value`] = new Tensor(this.kvDtype, p.pastValues[l], [B, H, P, D]);
    }
    // Fetch KV only when some row keeps it: copying it out is not free. With `new_key_values` the
    // past, which the caller already holds, is not copied back out at all.
    const fetches = [this.graph.scoreOutput];
    if (wantKv) {
      for (let l = 0; l < L; l++) fetches.push(this.kvOutputName(l, 'key'), this.kvOutputName(l, 'value'));
    }
    try {
      return await this.session.run(feeds, fetches);
    } finally {
      for (const t of Object.values(feeds)) t.dispose();
    }
  }

  private checkScoreDims(t: Tensor, p: PackedBatch): void {
    const want = this.graph.flavour === 'logprobs' ? [p.batch, p.seq] : [p.batch, p.seq, this.shape.vocabSize];
    if (t.dims.length !== want.length || t.dims.some((d, i) => d !== want[i])) {
      throw new Error(`${this.graph.scoreOutput} has dims [${t.dims.join(', ')}], expected [${want.join(', ')}]`);
    }
  }

  private kvOutputName(layer: number, kind: 'key' | 'value'): string {
    return this.graph.newKvOutputs ? `new_key_values.${layer}.${kind}` : `present.${layer}.${kind}`;
  }

  /** One layer's KV output, its dims checked: [B, H, S, D] for new_key_values, [B, H, P + S, D] for present. */
  private kvOutput(out: InferenceSession.ReturnType, layer: number, kind: 'key' | 'value', p: PackedBatch): KvArray {
    const name = this.kvOutputName(layer, kind);
    const t = out[name];
    const want = [p.batch, this.shape.numHeads, (this.graph.newKvOutputs ? 0 : p.past) + p.seq, this.shape.headDim];
    if (t.dims.length !== 4 || t.dims.some((d, i) => d !== want[i])) {
      throw new Error(`${name} has dims [${t.dims.join(', ')}], expected [${want.join(', ')}]`);
    }
    if (t.type !== this.kvDtype) throw new Error(`${name} is ${t.type}, expected ${this.kvDtype}`);
    return t.data as KvArray;
  }

  /** Row b's log-probs from the [B, S] target log-probs (NaN where no target is wanted). */
  private readLogprobs(scores: Float32Array, p: PackedBatch, b: number, row: ForwardRow): Float32Array {
    const n = row.tokens.length;
    const lp = new Float32Array(n);
    for (let s = 0; s < n; s++) lp[s] = row.targets[s] === -1 ? NaN : scores[b * p.seq + s]!;
    return lp;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
    await this.head?.release();
  }
}

/** The head graph's session, on the CPU with the model's threads (its logits arrive in host memory). */
function openHead(opts: SessionOptions): Promise<InferenceSession> {
  const o: InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', interOpNumThreads: 1 };
  if (opts.intraOpThreads !== undefined) o.intraOpNumThreads = opts.intraOpThreads;
  return InferenceSession.create(TARGET_LOGPROBS_GRAPH, o);
}

/** keepKvPrefix names a whole number of the row's positions (past included). */
function checkKeepKvPrefix(rows: readonly ForwardRow[]): void {
  for (const r of rows) {
    const n = r.keepKvPrefix;
    if (n !== undefined && (!Number.isInteger(n) || n < 0 || n > pastLengthOf(r) + r.tokens.length)) {
      throw new RangeError(`keepKvPrefix ${n} is outside the row's ${pastLengthOf(r) + r.tokens.length} positions`);
    }
  }
}
