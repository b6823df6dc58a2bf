/**
 * Cache keys as a hash chain over step segments (ARCHITECTURE.md §4):
 *   h_0 = H("prm/1", bundle fingerprint, prompt segment ids)
 *   h_k = H(h_{k-1}, segment k ids)
 * h_k names "this exact prompt followed by these exact k segments" under this exact model, so a
 * trace that extends a cached one shares all its keys, and any change to the model (fingerprint)
 * or to an earlier segment changes every later key.
 */
import { hash } from 'node:crypto';

export type SegmentHash = Buffer;

/** Starts every root hash: the scheme's name and version. */
const ROOT_DOMAIN = 'prm/1\0';

/**
 * One buffer per hash, hashed in one call: a request of 16 384 samples hashes tens of thousands of
 * segments, and a Hash object (a native handle the collector finalizes) with a buffer per part
 * for each of them is work for the collector while the event loop waits.
 */
function hashed(head: Buffer | string, ids: ArrayLike<number>, withLength: boolean): SegmentHash {
  const headBytes = typeof head === 'string' ? Buffer.byteLength(head) : head.length;
  const at = headBytes + (withLength ? 4 : 0);
  const out = Buffer.allocUnsafe(at + ids.length * 4);
  if (typeof head === 'string') out.write(head, 0);
  else head.copy(out, 0);
  if (withLength) out.writeUInt32LE(ids.length, headBytes);
  for (let i = 0; i < ids.length; i++) out.writeInt32LE(ids[i], at + i * 4);
  return hash('sha256', out, 'buffer');
}

export function rootHash(fingerprint: string, promptIds: ArrayLike<number>): SegmentHash {
  return hashed(`${ROOT_DOMAIN}${fingerprint}\0`, promptIds, false);
}

export function extendHash(previous: SegmentHash, segmentIds: ArrayLike<number>): SegmentHash {
  // The length prefix keeps segment boundaries unambiguous: [1,2]+[3] never equals [1]+[2,3].
  return hashed(previous, segmentIds, true);
}

/** [h_0, h_1, ..., h_n] for segments [prompt, step 1, ..., step n]. */
export function hashChain(fingerprint: string, segments: readonly ArrayLike<number>[]): SegmentHash[] {
  const chain: SegmentHash[] = [rootHash(fingerprint, segments[0])];
  for (let k = 1; k < segments.length; k++) chain.push(extendHash(chain[k - 1], segments[k]));
  return chain;
}

/**
 * Redis keys of the log-probs of segments 1..n of one chain. The `{root}` hash tag (encoded once)
 * puts every key of one prompt in the same cluster slot, so one MGET serves a whole chain in
 * cluster mode too.
 */
export function logprobKeys(chain: readonly SegmentHash[]): string[] {
  const tag = rootTag(chain[0]!);
  const keys: string[] = [];
  for (let k = 1; k < chain.length; k++) keys.push(`${tag}${chain[k]!.toString('base64url')}`);
  return keys;
}

function rootTag(root: SegmentHash): string {
  return `prm:lp:{${root.subarray(0, 12).toString('base64url')}}:`;
}

/** In-process key of the KV state of a prefix (all its tokens but the last), per model role. */
export function kvKey(role: string, hk: SegmentHash): string {
  return `${role}:${hk.toString('base64url')}`;
}
