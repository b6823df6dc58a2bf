/**
 * Cache keys as a hash chain over step segments (ARCHITECTURE.md §4):
 *   h_0 = H("prm/1", bundle fingerprint, prompt segment ids)
 *   h_k = H(h_{k-1}, segment k ids)
 * h_k names "this exact prompt followed by these exact k segments" under this exact model, so a
 * trace that extends a cached one shares all its keys, and any change to the model (fingerprint)
 * or to an earlier segment changes every later key.
 */
import { hash } from 'node:crypto';

/** Starts every root hash: the scheme's name and version. */
const ROOT_DOMAIN = 'prm/1\0';
const HASH_BYTES = 32;

/**
 * The chain of one trace, [h_0, h_1, ..., h_n] for segments [prompt, step 1, ..., step n], in one
 * buffer. A request's chains live until its answer; one buffer per trace instead of one per step
 * is tens of thousands fewer objects for the young-generation collector to copy while the event
 * loop waits.
 */
export class HashChain {
  private constructor(private readonly bytes: Buffer) {}

  static of(fingerprint: string, segments: readonly ArrayLike<number>[]): HashChain {
    const bytes = Buffer.allocUnsafe(HASH_BYTES * segments.length);
    digestInto(bytes, 0, rootInput(fingerprint, segments[0]));
    for (let k = 1; k < segments.length; k++) digestInto(bytes, k * HASH_BYTES, extensionInput(bytes, k, segments[k]));
    return new HashChain(bytes);
  }

  /** Hashes in the chain: the prompt's and one per step. */
  get length(): number {
    return this.bytes.length / HASH_BYTES;
  }

  /** h_k as text: the in-process name of the prefix through segment k. */
  key(k: number): string {
    return this.bytes.toString('base64url', k * HASH_BYTES, (k + 1) * HASH_BYTES);
  }

  /**
   * The log-prob cache's key of segment k ≥ 1. The `{root}` hash tag puts every key of one prompt
   * in the same cluster slot, so one MGET serves a whole chain in cluster mode too.
   */
  logprobKey(k: number): string {
    return `${this.rootTag()}${this.key(k)}`;
  }

  /** The log-prob cache's keys of segments 1..n. */
  logprobKeys(): string[] {
    const tag = this.rootTag();
    const keys: string[] = [];
    for (let k = 1; k < this.length; k++) keys.push(`${tag}${this.key(k)}`);
    return keys;
  }

  private rootTag(): string {
    return `prm:lp:{${this.bytes.toString('base64url', 0, 12)}}:`;
  }
}

/**
 * One input buffer per hash, hashed in one call: a request of 16 384 samples hashes tens of
 * thousands of segments, and a Hash object (a native handle the collector finalizes) with a
 * buffer per part for each of them is work for the collector while the event loop waits.
 */
function digestInto(out: Buffer, at: number, input: Buffer): void {
  hash('sha256', input, 'buffer').copy(out, at);
}

function rootInput(fingerprint: string, ids: ArrayLike<number>): Buffer {
  const head = `${ROOT_DOMAIN}${fingerprint}\0`;
  const at = Buffer.byteLength(head);
  const input = Buffer.allocUnsafe(at + ids.length * 4);
  input.write(head, 0);
  writeIds(input, at, ids);
  return input;
}

/** h_{k-1}, then segment k's length and ids. */
function extensionInput(chain: Buffer, k: number, ids: ArrayLike<number>): Buffer {
  const input = Buffer.allocUnsafe(HASH_BYTES + 4 + ids.length * 4);
  chain.copy(input, 0, (k - 1) * HASH_BYTES, k * HASH_BYTES);
  // The length prefix keeps segment boundaries unambiguous: [1,2]+[3] never equals [1]+[2,3].
  input.writeUInt32LE(ids.length, HASH_BYTES);
  writeIds(input, HASH_BYTES + 4, ids);
  return input;
}

function writeIds(out: Buffer, at: number, ids: ArrayLike<number>): void {
  for (let i = 0; i < ids.length; i++) out.writeInt32LE(ids[i], at + i * 4);
}
