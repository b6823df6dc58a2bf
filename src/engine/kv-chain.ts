/**
 * Reading a KV across its parent links (types.ts, KvState.parent): the pieces that make up its
 * first n positions, in order, and a compact copy of them.
 *
 * A link is made when a kept row's KV is built from its past plus the fed tokens (composeKv), so
 * each round of a tree search adds one. Packing a past walks the links (one copy per piece, as
 * before); links deeper than MAX_DEPTH are copied flat instead, so a trace extended a hundred times
 * is not packed from a hundred pieces.
 */
import { kvArrayLike, makeKv, type KvArray, type KvState } from './types.js';

/** A run of positions of one piece: its own arrays hold `stride` positions per head; `count` are used. */
export interface KvPiece {
  keys: KvArray[];
  values: KvArray[];
  stride: number;
  count: number;
}

export const MAX_DEPTH = 8;

/**
 * Copies head h of layer l from each piece, in order, into `dst` from offset `at`; returns the
 * offset after the last position written. Packing a past and flattening a KV both read this way.
 */
export function copyHeadFromPieces(
  dst: KvArray, at: number, pieces: readonly KvPiece[], which: 'keys' | 'values', l: number, h: number, headDim: number,
): number {
  let to = at;
  for (const p of pieces) {
    const from = h * p.stride * headDim;
    dst.set(p[which][l].subarray(from, from + p.count * headDim), to);
    to += p.count * headDim;
  }
  return to;
}

/** Positions the own arrays of `kv` hold. */
export function ownLength(kv: KvState): number {
  return kv.length - (kv.parent?.length ?? 0);
}

/** The pieces holding the first `n` positions of `kv`, oldest first. */
export function kvPieces(kv: KvState, n: number): KvPiece[] {
  const out: KvPiece[] = [];
  const walk = (k: KvState, upTo: number): void => {
    const p = k.parent;
    if (p !== undefined) walk(p.kv, Math.min(upTo, p.length));
    const from = p?.length ?? 0;
    if (upTo > from) out.push({ keys: k.keys, values: k.values, stride: ownLength(k), count: upTo - from });
  };
  walk(kv, n);
  return out;
}

export function depthOf(kv: KvState): number {
  let d = 0;
  for (let k: KvState | undefined = kv; k?.parent !== undefined; k = k.parent.kv) d++;
  return d;
}

/** A compact KV of the first `n` positions (`kv` itself when it already is one). */
export function flattenKv(kv: KvState, n: number, heads: number, headDim: number): KvState {
  if (kv.parent === undefined && n === kv.length) return kv;
  const pieces = kvPieces(kv, n);
  const layer = (which: 'keys' | 'values', l: number): KvArray => {
    const out = kvArrayLike(kv[which][l]!, heads * n * headDim);
    for (let h = 0; h < heads; h++) copyHeadFromPieces(out, h * n * headDim, pieces, which, l, h, headDim);
    return out;
  };
  const L = kv.keys.length;
  return makeKv(
    n,
    Array.from({ length: L }, (_, l) => layer('keys', l)),
    Array.from({ length: L }, (_, l) => layer('values', l)),
  );
}
