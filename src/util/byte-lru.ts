/**
 * A least-recently-used map bounded by the bytes its values hold, not by entry count: cache
 * entries here range from a few bytes (one step's log-probs) to megabytes (a long prefix's KV).
 * Backed by `lru-cache`, whose linked list in typed arrays keeps every operation O(1) however
 * many entries it holds and however many it has evicted (a `Map` re-inserted on access slows
 * down as deleted slots pile up at its head). `onRemove` sees every value that leaves (evicted,
 * replaced by a different value, deleted or cleared), so values that own resources elsewhere
 * (KV cache handles) can give them back.
 */
import { LRUCache } from 'lru-cache';

export class ByteLru<V extends NonNullable<unknown>> {
  private readonly cache: LRUCache<string, V>;

  constructor(
    maxBytes: number,
    sizeOf: (value: V) => number,
    onRemove?: (key: string, value: V) => void,
  ) {
    this.cache = new LRUCache<string, V>({
      maxSize: Math.max(1, Math.floor(maxBytes)),
      // A value larger than the whole budget is not stored (it would evict everything).
      maxEntrySize: Math.max(1, Math.floor(maxBytes)),
      sizeCalculation: (value, key) => Math.max(1, Math.ceil(sizeOf(value) + key.length * 2)),
      ...(onRemove ? { dispose: (value: V, key: string) => onRemove(key, value) } : {}),
    });
  }

  get bytes(): number {
    return this.cache.calculatedSize;
  }

  get size(): number {
    return this.cache.size;
  }

  get(key: string): V | undefined {
    return this.cache.get(key);
  }

  /** Looks without refreshing recency. */
  peek(key: string): V | undefined {
    return this.cache.peek(key);
  }

  has(key: string): boolean {
    return this.cache.has(key);
  }

  /** Stores a value; false when it is larger than the whole budget (then the key holds nothing). */
  set(key: string, value: V): boolean {
    this.cache.set(key, value);
    return this.cache.has(key);
  }

  delete(key: string): boolean {
    return this.cache.delete(key);
  }

  /** Deletes every entry whose value matches. */
  deleteWhere(match: (value: V) => boolean): void {
    for (const [key, value] of [...this.cache.entries()]) if (match(value)) this.cache.delete(key);
  }

  clear(): void {
    this.cache.clear();
  }
}
