/**
 * Packs forward rows into the padded arrays of one onnxruntime call, and unpacks each row's KV
 * from the `present.*` outputs. Pure array code, no onnxruntime, so the layout is testable alone.
 *
 * Layout for B rows, S = longest new-token run, P = longest past (ARCHITECTURE.md §2):
 *   input_ids[b, s]       row b's tokens, right-padded with id 0
 *   attention_mask[b, j]  j < P: 1 for the row's real past (left-aligned), 0 for past padding;
 *                         j = P + s: 1 for the row's real new tokens, 0 for padding
 *   position_ids[b, s]    past_b + s for real tokens; 0 for padding, so a short row beside a long
 *                         one never asks for a position beyond the model's table
 *   target_ids[b, s]      the wanted target, 0 where none is wanted (read back as NaN)
 *   past.{l}[b, h, j, d]  row b's past at j < past_b, zeros in the padding
 * Graphs without position_ids that derive positions as cumsum(attention_mask) − 1 (some optimum
 * exports) get the same positions for real tokens, because the past padding is masked out.
 * present.{l} = concat(past, new) on the length axis, so row b's real KV sits at j < past_b and at
 * P ≤ j < P + len_b; unpackKv copies exactly those positions into a compact KvState.
 */
import type { ForwardRow, KvState, ModelShape } from './types.js';

export interface PackedBatch {
  batch: number;
  seq: number;
  past: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  positionIds: BigInt64Array;
  targetIds: BigInt64Array;
  /** Per layer, [B, H, P, D]. */
  pastKeys: Float32Array[];
  pastValues: Float32Array[];
  /** Real (unpadded) token positions fed, for padding metrics. */
  realTokens: number;
}

function checkId(id: number, vocab: number, what: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocab) {
    throw new RangeError(`${what} ${id} is outside the model vocabulary [0, ${vocab})`);
  }
}

/** Copies a [H, len, D] per-layer array into row b of a [B, H, P, D] array. */
function copyPastIn(dst: Float32Array, src: Float32Array, b: number, H: number, P: number, len: number, D: number): void {
  for (let h = 0; h < H; h++) {
    const from = h * len * D;
    dst.set(src.subarray(from, from + len * D), ((b * H + h) * P) * D);
  }
}

export function packRows(rows: readonly ForwardRow[], shape: ModelShape): PackedBatch {
  const { numLayers: L, numHeads: H, headDim: D, vocabSize: V } = shape;
  const B = rows.length;
  let S = 0;
  let P = 0;
  let realTokens = 0;
  for (const r of rows) {
    if (r.targets.length !== r.tokens.length) {
      throw new RangeError(`a row has ${r.tokens.length} tokens but ${r.targets.length} targets`);
    }
    if (r.past !== undefined && (r.past.keys.length !== L || r.past.values.length !== L)) {
      throw new RangeError(`a row's past has ${r.past.keys.length} layers; the model has ${L}`);
    }
    S = Math.max(S, r.tokens.length);
    P = Math.max(P, r.past?.length ?? 0);
    realTokens += r.tokens.length;
  }
  const T = P + S;
  const inputIds = new BigInt64Array(B * S);
  const attentionMask = new BigInt64Array(B * T);
  const positionIds = new BigInt64Array(B * S);
  const targetIds = new BigInt64Array(B * S);
  const pastKeys = Array.from({ length: L }, () => new Float32Array(B * H * P * D));
  const pastValues = Array.from({ length: L }, () => new Float32Array(B * H * P * D));

  rows.forEach((r, b) => {
    const pastLen = r.past?.length ?? 0;
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
    if (r.past !== undefined && pastLen > 0) {
      const expect = H * pastLen * D;
      for (let l = 0; l < L; l++) {
        if (r.past.keys[l].length !== expect || r.past.values[l].length !== expect) {
          throw new RangeError(`a row's past layer ${l} has the wrong size for [${H}, ${pastLen}, ${D}]`);
        }
        copyPastIn(pastKeys[l], r.past.keys[l], b, H, P, pastLen, D);
        copyPastIn(pastValues[l], r.past.values[l], b, H, P, pastLen, D);
      }
    }
  });
  return { batch: B, seq: S, past: P, inputIds, attentionMask, positionIds, targetIds, pastKeys, pastValues, realTokens };
}

/** Row b's real positions of one present tensor [B, H, P + S, D] as a compact [H, past_b + len_b, D]. */
function unpackLayer(
  present: Float32Array, b: number, H: number, P: number, S: number, D: number, pastLen: number, newLen: number,
): Float32Array {
  const T = P + S;
  const len = pastLen + newLen;
  const out = new Float32Array(H * len * D);
  for (let h = 0; h < H; h++) {
    const base = (b * H + h) * T * D;
    const dst = h * len * D;
    out.set(present.subarray(base, base + pastLen * D), dst);
    out.set(present.subarray(base + P * D, base + (P + newLen) * D), dst + pastLen * D);
  }
  return out;
}

/** The compact KV of row b (its past + its new tokens) from the present outputs of one call. */
export function unpackKv(
  presentKeys: readonly Float32Array[],
  presentValues: readonly Float32Array[],
  packed: Pick<PackedBatch, 'past' | 'seq'>,
  shape: ModelShape,
  b: number,
  row: ForwardRow,
): KvState {
  const { numHeads: H, headDim: D } = shape;
  const pastLen = row.past?.length ?? 0;
  const newLen = row.tokens.length;
  return {
    length: pastLen + newLen,
    keys: presentKeys.map((t) => unpackLayer(t, b, H, packed.past, packed.seq, D, pastLen, newLen)),
    values: presentValues.map((t) => unpackLayer(t, b, H, packed.past, packed.seq, D, pastLen, newLen)),
  };
}

/** KV of zero positions (a row that starts at position 0 and is asked for its KV with no tokens). */
export function emptyKv(numLayers: number): KvState {
  return {
    length: 0,
    keys: Array.from({ length: numLayers }, () => new Float32Array(0)),
    values: Array.from({ length: numLayers }, () => new Float32Array(0)),
  };
}
