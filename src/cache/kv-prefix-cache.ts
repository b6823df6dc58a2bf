/**
 * Tier 2 of the cache: past key/values of recent prefixes, in process, bounded by bytes.
 *
 * The entry under h_k (segment-keys.ts) holds the KV of every token of segments 0..k except the
 * last one. Feeding that last token again with this past gives the log-prob of the first new token
 * without storing any logits, so extending a cached prefix costs only the new tokens (+1).
 * A KV state of n positions also serves any shorter prefix: causal attention makes its first m
 * positions exactly the KV of the first m tokens (see sliceKv).
 */
import { kvBytes, type KvState } from '../engine/types.js';
import { metrics } from '../metrics.js';
import { ByteLru } from './byte-lru.js';
import type { SegmentHash } from './segment-keys.js';

export interface PrefixKv {
  policy: KvState;
  /** null for reference-free bundles. */
  reference: KvState | null;
}

export interface KvHit {
  /** Index k of the segment whose prefix matched (0 = prompt only). */
  segment: number;
  kv: PrefixKv;
}

function prefixBytes(p: PrefixKv): number {
  return kvBytes(p.policy) + (p.reference ? kvBytes(p.reference) : 0);
}

/**
 * The first `length` positions of a KV state whose layers are [numHeads, kv.length, headDim].
 * Returns a copy, so the cached entry can be evicted while the slice is in use.
 */
export function sliceKv(kv: KvState, length: number, numHeads: number): KvState {
  if (length === kv.length) return kv;
  if (length > kv.length || length < 0) throw new RangeError(`cannot slice KV of ${kv.length} positions to ${length}`);
  const cut = (a: Float32Array): Float32Array => {
    const headDim = a.length / (numHeads * kv.length);
    const res = new Float32Array(numHeads * length * headDim);
    for (let h = 0; h < numHeads; h++) {
      const from = h * kv.length * headDim;
      res.set(a.subarray(from, from + length * headDim), h * length * headDim);
    }
    return res;
  };
  return { length, keys: kv.keys.map(cut), values: kv.values.map(cut) };
}

export class KvPrefixCache {
  private readonly lru: ByteLru<PrefixKv>;

  constructor(maxBytes: number) {
    this.lru = new ByteLru(maxBytes, prefixBytes);
  }

  get bytes(): number {
    return this.lru.bytes;
  }

  /** Longest k (searching from the end of the chain) with a stored prefix. */
  longest(chain: readonly SegmentHash[], maxSegment = chain.length - 1): KvHit | null {
    for (let k = Math.min(maxSegment, chain.length - 1); k >= 0; k--) {
      const kv = this.lru.get(chain[k].toString('base64url'));
      if (kv) {
        metrics.cacheHits.inc({ tier: 'tier2' });
        return { segment: k, kv };
      }
    }
    metrics.cacheMisses.inc({ tier: 'tier2' });
    return null;
  }

  has(hk: SegmentHash): boolean {
    return this.lru.has(hk.toString('base64url'));
  }

  set(hk: SegmentHash, kv: PrefixKv): void {
    this.lru.set(hk.toString('base64url'), kv);
    metrics.cacheBytes.set({ tier: 'tier2' }, this.lru.bytes);
  }

  clear(): void {
    this.lru.clear();
  }
}
