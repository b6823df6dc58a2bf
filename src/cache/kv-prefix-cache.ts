/**
 * The KV cache: past key/values of recent prefixes, bounded by bytes.
 *
 * The entry under h_k (segment-keys.ts) names the KV of every token of segments 0..k except the
 * last one. Feeding that last token again with this past gives the log-prob of the first new token
 * without storing any logits, so extending a cached prefix costs only the new tokens (+1).
 *
 * The arrays live with the models (a worker thread's store, engine/types.ts KvHandle); an entry
 * holds a shared handle pair and the number of positions it stands for. A KV of n positions serves
 * any shorter prefix (causal attention: its first m positions are exactly the KV of the first m
 * tokens), so a row can start from a cached trace cut short. Handles are reference-counted
 * (SharedKv): entries and rows waiting to run hold them, and the models free the memory when the
 * last holder lets go. The byte bound charges each entry its whole handle. Entries therefore get
 * KV of their own size: the prompt's entry is a compact copy (ForwardRow.keepKvPrefix), since one
 * pointing into a trace's KV would pin, and be charged, the whole trace.
 */
import type { ModelPair, PrefixKv, SharedKv } from '../engine/model-pair.js';
import { metrics } from '../metrics.js';
import { ByteLru } from '../util/byte-lru.js';
import type { HashChain } from './segment-keys.js';

export interface KvHit {
  /** Index k of the segment whose prefix matched (0 = prompt only). */
  segment: number;
  /** Retained for the caller, who must release `prefix.kv` when done with it. */
  prefix: PrefixKv;
}

export class KvPrefixCache {
  private readonly lru: ByteLru<PrefixKv>;

  constructor(maxBytes: number) {
    this.lru = new ByteLru(maxBytes, (p) => p.kv.bytes, (_key, p) => p.kv.release());
  }

  get bytes(): number {
    return this.lru.bytes;
  }

  get entries(): number {
    return this.lru.size;
  }

  /**
   * Longest k (searching from the end of the chain) with a stored prefix. The hit is retained for
   * the caller, so an eviction while it waits for its batch cannot free it.
   */
  longest(chain: HashChain, maxSegment = chain.length - 1): KvHit | null {
    for (let k = Math.min(maxSegment, chain.length - 1); k >= 0; k--) {
      const p = this.lru.get(chain.key(k));
      if (p) {
        metrics.cacheHits.inc({ tier: 'tier2' });
        return { segment: k, prefix: { kv: p.kv.retain(), length: p.length } };
      }
    }
    metrics.cacheMisses.inc({ tier: 'tier2' });
    return null;
  }

  /** `key`: the prefix's HashChain.key. */
  has(key: string): boolean {
    return this.lru.has(key);
  }

  /** Stores the first `length` positions of `kv` under h_k (`key`: HashChain.key(k)); the cache takes its own reference. */
  set(key: string, kv: SharedKv, length: number): void {
    if (length > kv.length) throw new RangeError(`a prefix of ${length} positions does not fit a KV of ${kv.length}`);
    kv.retain();
    if (!this.lru.set(key, { kv, length })) kv.release();
    metrics.cacheBytes.set({ tier: 'tier2' }, this.lru.bytes);
  }

  /** Drops every entry computed by `models` (their bundle is being replaced). */
  dropModels(models: ModelPair): void {
    this.lru.deleteWhere((p) => p.kv.models.policy === models.policy);
    metrics.cacheBytes.set({ tier: 'tier2' }, this.lru.bytes);
  }

  clear(): void {
    this.lru.clear();
    metrics.cacheBytes.set({ tier: 'tier2' }, 0);
  }
}
