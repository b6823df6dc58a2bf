/**
 * Tier 2 over real worker-thread models (tiny-logprobs): the KV stays in the workers, and the
 * reference counts decide when it is freed there. Eviction, replacement, clear and a bundle's
 * replacement free exactly the handles nobody holds any more; a hit handed to a caller survives
 * eviction until the caller releases it. "Freed" is read from the workers' own stores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedBundle } from '../../src/bundle/load-bundle.js';
import { HashChain } from '../../src/cache/segment-keys.js';
import { KvPrefixCache } from '../../src/cache/kv-prefix-cache.js';
import { SharedKv } from '../../src/engine/model-pair.js';
import { WorkerLogprobModel } from '../../src/engine/worker-model.js';
import { heldKvHandles, openWorkerBundle } from '../helpers/worker-bundle.js';

let bundle: LoadedBundle;

beforeAll(async () => {
  bundle = await openWorkerBundle();
});
afterAll(async () => {
  await bundle?.dispose();
});

/** The KV of `n` tokens in both models, as the pipeline would hold it (one reference). */
async function computeKv(n: number, first = 5): Promise<SharedKv> {
  const tokens = Array.from({ length: n }, (_, i) => first + i);
  const row = { tokens, targets: tokens.map(() => -1), keepKv: true };
  const [[p], [r]] = await Promise.all([bundle.policy.forward([row]), bundle.reference!.forward([row])]);
  return new SharedKv(bundle.models, p.kv!, r.kv!);
}

const held = () => heldKvHandles(bundle);

const key = (name: string) => HashChain.of('fingerprint', [[1, 2, 3], Array.from(name, (c) => c.charCodeAt(0))]);

describe('KvPrefixCache with KV held by worker threads', () => {
  it('frees evicted, replaced and cleared entries in the workers, and nothing still held', async () => {
    expect(bundle.policy).toBeInstanceOf(WorkerLogprobModel);
    const a = await computeKv(8);
    const b = await computeKv(8, 20);
    const c = await computeKv(8, 40);
    expect(await held()).toEqual([3, 3]);
    // Room for two entries of this size (+ key bytes), not three.
    const cache = new KvPrefixCache(Math.floor(a.bytes * 2.5));
    const [ka, kb, kc] = [key('a'), key('b'), key('c')];

    cache.set(ka.key(1), a, 7);
    cache.set(kb.key(1), b, 7);
    // The cache holds its own references: the computing side lets go of all three.
    for (const kv of [a, b, c]) kv.release();
    expect(await held(), 'c had no holder but the computing side').toEqual([2, 2]);

    const hit = cache.longest(ka)!;
    expect(hit.segment).toBe(1);
    expect(hit.prefix.length).toBe(7);
    const d = await computeKv(8, 60);
    cache.set(kc.key(1), d, 8);
    d.release();
    // a was stored first, but the hit made it the most recently used: b is evicted.
    expect(cache.longest(kb)).toBeNull();
    expect(await held()).toEqual([2, 2]);

    // Replacing an entry frees the value it replaced.
    const a2 = await computeKv(8, 80);
    cache.set(ka.key(1), a2, 7);
    a2.release();
    expect(await held(), 'a survives: the hit still holds it').toEqual([3, 3]);
    hit.prefix.kv.release();
    expect(await held()).toEqual([2, 2]);

    cache.clear();
    expect(cache.bytes).toBe(0);
    expect(await held()).toEqual([0, 0]);
  });

  it('two entries on one KV (a trace and its prompt) free it only when both are gone', async () => {
    const kv = await computeKv(12);
    const cache = new KvPrefixCache(kv.bytes * 10);
    const chain = key('trace');
    cache.set(chain.key(1), kv, 11);
    cache.set(chain.key(0), kv, 3);
    kv.release();
    const hit = cache.longest(chain, 0)!;
    expect(hit.prefix.length).toBe(3);
    hit.prefix.kv.release();
    expect(await held()).toEqual([1, 1]);
    cache.dropModels(bundle.models);
    expect(cache.entries).toBe(0);
    expect(await held()).toEqual([0, 0]);
  });

  it('refuses a prefix longer than its KV, and releasing more often than retaining', async () => {
    const kv = await computeKv(4);
    const cache = new KvPrefixCache(kv.bytes * 10);
    expect(() => cache.set(key('x').key(1), kv, 5)).toThrow(/does not fit/);
    kv.release();
    expect(() => kv.release()).toThrow(/released more often/);
    expect(() => kv.retain()).toThrow(/already released/);
    expect(await held()).toEqual([0, 0]);
  });
});
