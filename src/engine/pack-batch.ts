/**
 * Packs forward rows into the padded arrays of one onnxruntime call, and builds each kept row's KV
 * from the outputs. Pure array code, no onnxruntime, so the layout is testable alone.
 *
 * Layout for B rows, S = longest new-token run, P = longest past fed (past_b = a row's pastLength,
 * else its past's length; ARCHITECTURE.md §2):
 *   input_ids[b, s]       row b's tokens, right-padded with id 0
 *   attention_mask[b, j]  j < P: 1 for the row's real past (left-aligned), 0 for past padding;
 *                         j = P + s: 1 for the row's real new tokens, 0 for padding
 *   position_ids[b, s]    past_b + s for real tokens; 0 for padding, so a short row beside a long
 *                         one never asks for a position beyond the model's table
 *   target_ids[b, s]      the wanted target, 0 where none is wanted (read back as NaN)
 *   past.{l}[b, h, j, d]  row b's past at j < past_b (read across its links, kv-chain.ts), zeros
 *                         in the padding
 * Graphs without position_ids that derive positions as cumsum(attention_mask) − 1 (some optimum
 * exports) get the same positions for real tokens, because the past padding is masked out.
 * present.{l} = concat(past, new) on the length axis, so row b's real KV sits at j < past_b and at
 * P ≤ j < P + len_b; unpackKv copies exactly those positions into a compact KvState. With a
 * graph's `new_key_values` outputs, composeKv keeps only the new positions, linked to the past.
 */
import { copyHeadFromPieces, depthOf, flattenKv, kvPieces, MAX_DEPTH, type KvPiece } from './kv-chain.js';
import { asKvState, kvArray, kvArrayLike, makeKv, type ForwardRow, type KvArray, type KvDtype, type KvState, type ModelShape } from './types.js';

export interface PackedBatch {
  batch: number;
  seq: number;
  past: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  positionIds: BigInt64Array;
  targetIds: BigInt64Array;
  /** Per layer, [B, H, P, D], of the model's KV element type. */
  pastKeys: KvArray[];
  pastValues: KvArray[];
  /** Real (unpadded) token positions fed, for padding metrics. */
  realTokens: number;
}

function checkId(id: number, vocab: number, what: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocab) {
    throw new RangeError(`${what} ${id} is outside the model vocabulary [0, ${vocab})`);
  }
}

/** Positions of a row's past that are fed (pastLength, else all), checked against the past. */
export function pastLengthOf(r: ForwardRow): number {
  if (r.past === undefined) {
    if (r.pastLength !== undefined && r.pastLength !== 0) throw new RangeError(`a row has pastLength ${r.pastLength} but no past`);
    return 0;
  }
  const n = r.pastLength ?? r.past.length;
  if (!Number.isInteger(n) || n < 0 || n > r.past.length) {
    throw new RangeError(`a row's pastLength ${n} is outside its past of ${r.past.length} positions`);
  }
  return n;
}

/**
 * Copies the pieces of a row's past (kv-chain.ts; one piece for a compact KV) into row b of a
 * [B, H, P, D] array, one layer, and zeroes the row's padding after them (the array may be reused).
 */
function copyPastIn(dst: KvArray, pieces: readonly KvPiece[], which: 'keys' | 'values', l: number, b: number, H: number, P: number, D: number): void {
  for (let h = 0; h < H; h++) {
    const end = copyHeadFromPieces(dst, (b * H + h) * P * D, pieces, which, l, h, D);
    dst.fill(0, end, (b * H + h + 1) * P * D);
  }
}

/** Storage for the padded pasts of one pass: at least `elements` of `dtype`, any contents. */
export type PastBuffer = (elements: number, dtype: KvDtype) => KvArray;

const freshPastBuffer: PastBuffer = (elements, dtype) => kvArray(dtype, elements);

/**
 * `pastBuffer` holds the 2·L padded past arrays of the pass, one after the other: the engine lends
 * a buffer it reuses from pass to pass, because allocating hundreds of megabytes afresh for every
 * tree-search pass cost more than copying into them.
 */
export function packRows(rows: readonly ForwardRow[], shape: ModelShape, pastBuffer: PastBuffer = freshPastBuffer): PackedBatch {
  const { numLayers: L, numHeads: H, headDim: D, vocabSize: V } = shape;
  const B = rows.length;
  let S = 0;
  let P = 0;
  let realTokens = 0;
  for (const r of rows) {
    if (r.targets.length !== r.tokens.length) {
      throw new RangeError(`a row has ${r.tokens.length} tokens but ${r.targets.length} targets`);
    }
    if (r.past !== undefined) {
      const kv = asKvState(r.past);
      if (kv.keys.length !== L || kv.values.length !== L) throw new RangeError(`a row's past has ${kv.keys.length} layers; the model has ${L}`);
    }
    S = Math.max(S, r.tokens.length);
    P = Math.max(P, pastLengthOf(r));
    realTokens += r.tokens.length;
  }
  const T = P + S;
  const inputIds = new BigInt64Array(B * S);
  const attentionMask = new BigInt64Array(B * T);
  const positionIds = new BigInt64Array(B * S);
  const targetIds = new BigInt64Array(B * S);
  const per = B * H * P * D;
  const buffer = pastBuffer(2 * L * per, shape.kvDtype ?? 'float32');
  const pastKeys = Array.from({ length: L }, (_, l) => buffer.subarray(2 * l * per, (2 * l + 1) * per));
  const pastValues = Array.from({ length: L }, (_, l) => buffer.subarray((2 * l + 1) * per, (2 * l + 2) * per));

  rows.forEach((r, b) => {
    const pastLen = pastLengthOf(r);
    for (let j = 0; j < pastLen; j++) attentionMask[b * T + j] = 1n;
    for (let s = 0; s < r.tokens.length; s++) {
      const tok = r.tokens[s];
      const tgt = r.targets[s];
      checkId(tok, V, 'token id');
      if (tgt !== -1) checkId(tgt, V, 'target id');
      inputIds[b * S + s] = BigInt(tok);
      targetIds[b * S + s] = tgt === -1 ? 0n : BigInt(tgt);
      positionIds[b * S + s] = BigInt(pastLen + s);
      attentionMask[b * T + P + s] = 1n;
    }
    const pieces = r.past !== undefined && pastLen > 0 ? kvPieces(r.past as KvState, pastLen) : [];
    for (const p of pieces) {
      for (let l = 0; l < L; l++) {
        if (p.keys[l].length !== H * p.stride * D || p.values[l].length !== H * p.stride * D) {
          throw new RangeError(`a row's past layer ${l} has the wrong size for [${H}, ${p.stride}, ${D}]`);
        }
      }
    }
    for (let l = 0; l < L; l++) {
      copyPastIn(pastKeys[l], pieces, 'keys', l, b, H, P, D);
      copyPastIn(pastValues[l], pieces, 'values', l, b, H, P, D);
    }
  });
  return { batch: B, seq: S, past: P, inputIds, attentionMask, positionIds, targetIds, pastKeys, pastValues, realTokens };
}

/** Where one layer of a row's KV is read from, per head: an array, and each head's first position. */
interface Source {
  array: KvArray;
  base: (h: number) => number;
}

/**
 * The first `len` positions of a row's KV as a compact [H, len, D] layer: its past's first positions
 * (up to `pastLen`) from one source, then its new tokens' from another.
 */
function gatherLayer(past: Source | null, fresh: Source, H: number, D: number, pastLen: number, len: number): KvArray {
  const fromPast = Math.min(len, pastLen);
  const out = kvArrayLike(fresh.array, H * len * D);
  for (let h = 0; h < H; h++) {
    const dst = h * len * D;
    if (past !== null && fromPast > 0) out.set(past.array.subarray(past.base(h), past.base(h) + fromPast * D), dst);
    const at = fresh.base(h);
    out.set(fresh.array.subarray(at, at + (len - fromPast) * D), dst + fromPast * D);
  }
  return out;
}

/**
 * Reads row b's kept KV (or its first `upTo` positions) out of one call's KV outputs, per layer
 * keys then values; `packed` is the batch's layout (what of it the reader needs).
 */
export type RowKvReader<P> = (
  keys: readonly KvArray[],
  values: readonly KvArray[],
  packed: P,
  shape: ModelShape,
  b: number,
  row: ForwardRow,
  upTo?: number,
) => KvState;

function keptLength(row: ForwardRow, upTo: number | undefined): { pastLen: number; len: number } {
  const pastLen = pastLengthOf(row);
  const all = pastLen + row.tokens.length;
  const len = upTo ?? all;
  if (!Number.isInteger(len) || len < 0 || len > all) throw new RangeError(`cannot unpack ${len} of a row's ${all} positions`);
  return { pastLen, len };
}

/**
 * The compact KV of row b (its past + its new tokens) from the present outputs of one call, or of
 * its first `upTo` positions only (a prefix kept without the whole row). In present [B, H, P + S, D]
 * the row's past sits at j < past_b and its new tokens at P ≤ j < P + len_b.
 */
export const unpackKv: RowKvReader<Pick<PackedBatch, 'past' | 'seq'>> = (presentKeys, presentValues, packed, shape, b, row, upTo) => {
  const { numHeads: H, headDim: D } = shape;
  const { pastLen, len } = keptLength(row, upTo);
  const T = packed.past + packed.seq;
  const layer = (present: KvArray) => {
    const past = { array: present, base: (h: number) => (b * H + h) * T * D };
    const fresh = { array: present, base: (h: number) => ((b * H + h) * T + packed.past) * D };
    return gatherLayer(past, fresh, H, D, pastLen, len);
  };
  return makeKv(len, presentKeys.map(layer), presentValues.map(layer));
};

/**
 * The same KV from a graph's `new_key_values` outputs [B, H, S, D] (the fed tokens' KV alone),
 * without copying the past: the result holds the new positions and links to the row's past
 * (KvState.parent), which the caller already holds. A past already MAX_DEPTH links deep is copied
 * flat instead. A prefix that ends inside the past is a compact copy of it.
 */
export const composeKv: RowKvReader<Pick<PackedBatch, 'seq'>> = (newKeys, newValues, packed, shape, b, row, upTo) => {
  const { numHeads: H, headDim: D } = shape;
  const { pastLen, len } = keptLength(row, upTo);
  const past = row.past === undefined || pastLen === 0 ? null : (row.past as KvState);
  if (past !== null && len <= pastLen) return flattenKv(past, len, H, D);
  const fresh = (t: KvArray) => gatherLayer(null, { array: t, base: (h) => (b * H + h) * packed.seq * D }, H, D, 0, len - pastLen);
  if (past === null) return makeKv(len, newKeys.map(fresh), newValues.map(fresh));
  const parent = depthOf(past) >= MAX_DEPTH ? flattenKv(past, pastLen, H, D) : past;
  return makeKv(len, newKeys.map(fresh), newValues.map(fresh), { kv: parent, length: pastLen });
};

/** KV of zero positions (a row that starts at position 0 and is asked for its KV with no tokens). */
export function emptyKv(numLayers: number, dtype: KvDtype = 'float32'): KvState {
  return makeKv(
    0,
    Array.from({ length: numLayers }, () => kvArray(dtype, 0)),
    Array.from({ length: numLayers }, () => kvArray(dtype, 0)),
  );
}
