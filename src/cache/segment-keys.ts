/**
 * Cache keys as a hash chain over step segments (ARCHITECTURE.md §4):
 *   h_0 = H("prm/1", bundle fingerprint, prompt segment ids)
 *   h_k = H(h_{k-1}, segment k ids)
 * h_k names "this exact prompt followed by these exact k segments" under this exact model, so a
 * trace that extends a cached one shares all its keys, and any change to the model (fingerprint)
 * or to an earlier segment changes every later key.
 */
import { createHash } from 'node:crypto';

export type SegmentHash = Buffer;

function idsBytes(ids: ArrayLike<number>): Buffer {
  const out = Buffer.allocUnsafe(ids.length * 4);
  for (let i = 0; i < ids.length; i++) out.writeInt32LE(ids[i], i * 4);
  return out;
}

export function rootHash(fingerprint: string, promptIds: ArrayLike<number>): SegmentHash {
  return createHash('sha256')
    .update('prm/1\0')
    .update(fingerprint)
    .update('\0')
    .update(idsBytes(promptIds))
    .digest();
}

export function extendHash(previous: SegmentHash, segmentIds: ArrayLike<number>): SegmentHash {
  // The length prefix keeps segment boundaries unambiguous: [1,2]+[3] never equals [1]+[2,3].
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32LE(segmentIds.length, 0);
  return createHash('sha256').update(previous).update(len).update(idsBytes(segmentIds)).digest();
}

/** [h_0, h_1, ..., h_n] for segments [prompt, step 1, ..., step n]. */
export function hashChain(fingerprint: string, segments: readonly ArrayLike<number>[]): SegmentHash[] {
  const chain: SegmentHash[] = [rootHash(fingerprint, segments[0])];
  for (let k = 1; k < segments.length; k++) chain.push(extendHash(chain[k - 1], segments[k]));
  return chain;
}

/**
 * Redis key of segment k's log-probs. The `{root}` hash tag puts every key of one prompt in the
 * same cluster slot, so one MGET serves a whole chain in cluster mode too.
 */
export function logprobKey(root: SegmentHash, hk: SegmentHash): string {
  return `prm:lp:{${root.subarray(0, 12).toString('base64url')}}:${hk.toString('base64url')}`;
}

/** In-process key of the KV state of a prefix (all its tokens but the last), per model role. */
export function kvKey(role: string, hk: SegmentHash): string {
  return `${role}:${hk.toString('base64url')}`;
}
