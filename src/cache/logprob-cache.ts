/**
 * The log-prob cache: the per-token log-probs of each step segment, under the hash-chain keys of
 * segment-keys.ts. Values are the raw float32 outputs of the policy and reference, so rewards
 * computed from a cached value are bit-identical to rewards computed from a fresh forward pass.
 *
 * Two implementations: an in-process LRU (the embedded default) and Redis (shared by replicas,
 * see redis-logprob-cache.ts). Both never throw from lookups: a cache in trouble is a miss.
 */
import { ByteLru } from '../util/byte-lru.js';
import { mapInSlices, type TimeSlices } from '../util/time-slices.js';

export interface SegmentLogprobs {
  policy: Float32Array;
  /** null for reference-free bundles. */
  reference: Float32Array | null;
}

export interface CacheHealth {
  kind: 'memory' | 'redis' | 'redis-cluster';
  healthy: boolean;
  detail: string;
}

export interface LogprobCache {
  /** Values in key order; null for a miss. Never rejects. */
  /**
   * `slices`: the request's slice budget (time-slices.ts), for an implementation whose reads are
   * work on the event loop rather than a wait on I/O.
   */
  getMany(keys: readonly string[], slices?: TimeSlices): Promise<(SegmentLogprobs | null)[]>;
  /** Stores in the background; never rejects. */
  setMany(entries: readonly (readonly [string, SegmentLogprobs])[]): void;
  health(): CacheHealth;
  close(): Promise<void>;
}

/**
 * A step's log-probs, zeroed, in one buffer of their own with both arrays views into it (policy,
 * then reference). An entry outlives the request that made it, so the young-generation collector
 * copies it on its way to the old generation: a buffer outside the heap and two views are a few
 * small objects to copy, two arrays with their data in the heap twice as many and the data too.
 */
export function newSegment(tokens: number, withReference: boolean): SegmentLogprobs {
  const bytes = new ArrayBuffer(tokens * 4 * (withReference ? 2 : 1));
  return { policy: new Float32Array(bytes, 0, tokens), reference: withReference ? new Float32Array(bytes, tokens * 4, tokens) : null };
}

/** Layout: u8 flags (bit 0: has reference), u32 LE token count, float32 LE policy[, reference]. */
export function encodeSegment(value: SegmentLogprobs): Buffer {
  const n = value.policy.length;
  const hasRef = value.reference !== null;
  const out = Buffer.allocUnsafe(5 + n * 4 * (hasRef ? 2 : 1));
  out.writeUInt8(hasRef ? 1 : 0, 0);
  out.writeUInt32LE(n, 1);
  Buffer.from(value.policy.buffer, value.policy.byteOffset, n * 4).copy(out, 5);
  if (hasRef) Buffer.from(value.reference!.buffer, value.reference!.byteOffset, n * 4).copy(out, 5 + n * 4);
  return out;
}

/** Returns null for anything malformed (a foreign or truncated value is a miss, not an error). */
export function decodeSegment(buf: Buffer): SegmentLogprobs | null {
  if (buf.length < 5) return null;
  const flags = buf.readUInt8(0);
  const n = buf.readUInt32LE(1);
  const hasRef = (flags & 1) === 1;
  if (flags > 1 || buf.length !== 5 + n * 4 * (hasRef ? 2 : 1)) return null;
  // Copied, not viewed: a Buffer slice may not be 4-byte aligned. The encoding's layout after the
  // header is newSegment's.
  const value = newSegment(n, hasRef);
  new Uint8Array(value.policy.buffer).set(buf.subarray(5));
  return value;
}

/**
 * What an entry costs besides its values and its key (which ByteLru charges at 2 bytes a
 * character): the value's objects and buffer record, the key's string forms, the LRU's slots. A
 * step is often a few tokens, so this is most of an entry: charged at 64 bytes, a full cache held
 * 2–3 times CACHE_MAX_BYTES (`node --expose-gc --import tsx scripts/cache-entry-memory.ts`).
 */
const ENTRY_OVERHEAD_BYTES = 600;

function segmentBytes(v: SegmentLogprobs): number {
  return v.policy.byteLength + (v.reference?.byteLength ?? 0) + ENTRY_OVERHEAD_BYTES;
}

/** The embedded default: an LRU bounded by bytes, private to this process. */
export class MemoryLogprobCache implements LogprobCache {
  private readonly lru: ByteLru<SegmentLogprobs>;

  constructor(maxBytes: number) {
    this.lru = new ByteLru(maxBytes, segmentBytes);
  }

  get bytes(): number {
    return this.lru.bytes;
  }

  getMany(keys: readonly string[], slices?: TimeSlices): Promise<(SegmentLogprobs | null)[]> {
    // In slices: a large request looks up thousands of segments.
    return mapInSlices(keys, (k) => this.lru.get(k) ?? null, slices);
  }

  setMany(entries: readonly (readonly [string, SegmentLogprobs])[]): void {
    for (const [k, v] of entries) this.lru.set(k, v);
  }

  health(): CacheHealth {
    return { kind: 'memory', healthy: true, detail: `in-process, ${this.lru.size} segments, ${this.lru.bytes} bytes` };
  }

  async close(): Promise<void> {
    this.lru.clear();
  }
}
