/**
 * A least-recently-used map bounded by the bytes its values hold, not by entry count: cache
 * entries here range from a few bytes (one step's log-probs) to megabytes (a long prefix's KV).
 * Map iteration order is insertion order, so re-inserting on access makes the first key the LRU.
 * `onRemove` sees every value that leaves (evicted, replaced, deleted or cleared), so values that
 * own resources elsewhere (the KV cache's handles) can give them back.
 */
export class ByteLru<V> {
  private readonly map = new Map<string, { value: V; bytes: number }>();
  private used = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly sizeOf: (value: V) => number,
    private readonly onRemove?: (key: string, value: V) => void,
  ) {}

  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, entry);
    return entry.value;
  }

  /** Looks without refreshing recency. */
  peek(key: string): V | undefined {
    return this.map.get(key)?.value;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** Stores a value; one larger than the whole budget is not stored (it would evict everything). */
  set(key: string, value: V): boolean {
    const bytes = this.sizeOf(value) + key.length * 2;
    this.delete(key);
    if (bytes > this.maxBytes) return false;
    this.map.set(key, { value, bytes });
    this.used += bytes;
    while (this.used > this.maxBytes) {
      const oldest = this.map.keys().next().value as string;
      const entry = this.map.get(oldest)!;
      this.map.delete(oldest);
      this.used -= entry.bytes;
      this.onRemove?.(oldest, entry.value);
    }
    return true;
  }

  delete(key: string): boolean {
    const entry = this.map.get(key);
    if (entry === undefined) return false;
    this.map.delete(key);
    this.used -= entry.bytes;
    this.onRemove?.(key, entry.value);
    return true;
  }

  /** Deletes every entry whose value matches. */
  deleteWhere(match: (value: V) => boolean): void {
    for (const [key, entry] of [...this.map]) if (match(entry.value)) this.delete(key);
  }

  clear(): void {
    const entries = [...this.map];
    this.map.clear();
    this.used = 0;
    for (const [key, entry] of entries) this.onRemove?.(key, entry.value);
  }
}
