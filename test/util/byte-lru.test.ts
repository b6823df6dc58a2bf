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

  it('gives back every value that leaves: replaced by another, deleted, matched, cleared — not one stored again', () => {
    const removed: string[] = [];
    const lru = new ByteLru<{ v: string }>(1000, (x) => x.v.length, (k, x) => removed.push(`${k}=${x.v}`));
    const a = { v: 'a1' };
    lru.set('a', a);
    lru.set('a', a); // the same value again: still held, nothing to give back
    lru.set('a', { v: 'a2' });
    lru.set('b', { v: 'b' });
    lru.set('c', { v: 'c' });
    lru.delete('b');
    lru.deleteWhere((x) => x.v === 'c');
    lru.set('d', { v: 'd' });
    lru.clear();
    expect(removed).toEqual(['a=a1', 'b=b', 'c=c', 'a=a2', 'd=d']);
    expect(lru.size).toBe(0);
    expect(lru.bytes).toBe(0);
  });
});
