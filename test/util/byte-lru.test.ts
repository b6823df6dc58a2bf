import { describe, expect, it } from 'vitest';
import { ByteLru } from '../../src/util/byte-lru.js';

describe('ByteLru', () => {
  const size = (s: string) => s.length;

  it('evicts least recently used entries to stay within its byte budget', () => {
    const evicted: string[] = [];
    // key "a" costs 2 bytes (UTF-16) + value length
    const lru = new ByteLru<string>(30, size, (k) => evicted.push(k));
    lru.set('a', 'x'.repeat(8)); // 10
    lru.set('b', 'x'.repeat(8)); // 20
    expect(lru.get('a')).toBeDefined(); // a is now most recent
    lru.set('c', 'x'.repeat(8)); // 30: fits
    lru.set('d', 'x'.repeat(8)); // 40: evict b (LRU)
    expect(evicted).toEqual(['b']);
    expect(lru.has('a') && lru.has('c') && lru.has('d')).toBe(true);
    expect(lru.bytes).toBe(30);
  });

  it('refuses a value larger than the whole budget instead of flushing everything', () => {
    const lru = new ByteLru<string>(20, size);
    lru.set('a', 'xx');
    expect(lru.set('big', 'x'.repeat(50))).toBe(false);
    expect(lru.has('a')).toBe(true);
  });

  it('accounts bytes on overwrite and delete', () => {
    const lru = new ByteLru<string>(100, size);
    lru.set('k', 'x'.repeat(10));
    lru.set('k', 'x'.repeat(4));
    expect(lru.bytes).toBe(6);
    lru.delete('k');
    expect(lru.bytes).toBe(0);
    expect(lru.size).toBe(0);
  });
});
