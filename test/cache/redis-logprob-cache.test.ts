/**
 * Tier 1 against a real redis-server on a private port: values round-trip bit-exactly, and Redis
 * dying or hanging turns into misses (never errors), with caching resuming by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryLogprobCache, decodeSegment, encodeSegment } from '../../src/cache/logprob-cache.js';
import { RedisLogprobCache } from '../../src/cache/redis-logprob-cache.js';
import { RedisProcess } from '../helpers/redis-server.js';

const seg = (n: number, withRef: boolean, seed: number) => ({
  policy: Float32Array.from({ length: n }, (_, i) => -Math.abs(Math.sin(seed + i)) * 3),
  reference: withRef ? Float32Array.from({ length: n }, (_, i) => -Math.abs(Math.cos(seed * 7 + i))) : null,
});

async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}

describe('segment encoding', () => {
  it('round-trips with and without a reference, and rejects malformed values', () => {
    for (const v of [seg(5, true, 1), seg(3, false, 2), seg(0, true, 3)]) {
      const back = decodeSegment(encodeSegment(v))!;
      expect(Array.from(back.policy)).toEqual(Array.from(v.policy));
      expect(back.reference ? Array.from(back.reference) : null).toEqual(v.reference ? Array.from(v.reference) : null);
    }
    const buf = encodeSegment(seg(4, true, 1));
    expect(decodeSegment(buf.subarray(0, buf.length - 1))).toBeNull();
    expect(decodeSegment(Buffer.from('hello'))).toBeNull();
  });
});

describe('MemoryLogprobCache', () => {
  it('returns what was stored and null for misses', async () => {
    const c = new MemoryLogprobCache(1 << 20);
    const v = seg(4, true, 9);
    c.setMany([['k1', v]]);
    const [a, b] = await c.getMany(['k1', 'k2']);
    expect(a).toBe(v);
    expect(b).toBeNull();
  });
});

describe('RedisLogprobCache (real redis-server)', () => {
  let redis: RedisProcess;
  let cache: RedisLogprobCache;

  beforeAll(async () => {
    redis = await RedisProcess.start();
    cache = new RedisLogprobCache({ url: redis.url, timeoutMs: 200, ttlSeconds: 60 });
    await eventually(async () => cache.health().healthy);
  });

  afterAll(async () => {
    await cache.close();
    await redis.kill();
  });

  it('stores and fetches segments across hash tags in one call, bit-exactly', async () => {
    const a = seg(7, true, 1);
    const b = seg(2, false, 2);
    const keys = ['prm:lp:{t1}:a', 'prm:lp:{t2}:b', 'prm:lp:{t1}:missing'];
    cache.setMany([
      [keys[0], a],
      [keys[1], b],
    ]);
    await eventually(async () => (await cache.getMany(keys))[1] !== null);
    const [ga, gb, gm] = await cache.getMany(keys);
    expect(Array.from(ga!.policy)).toEqual(Array.from(a.policy));
    expect(Array.from(ga!.reference!)).toEqual(Array.from(a.reference!));
    expect(Array.from(gb!.policy)).toEqual(Array.from(b.policy));
    expect(gb!.reference).toBeNull();
    expect(gm).toBeNull();
  });

  it('answers misses while Redis is down and resumes caching after a restart', async () => {
    const key = 'prm:lp:{t3}:x';
    await redis.kill();
    await eventually(async () => !cache.health().healthy);
    cache.setMany([[key, seg(3, true, 5)]]); // dropped quietly
    expect(await cache.getMany([key])).toEqual([null]);
    await redis.startProcess();
    await eventually(async () => cache.health().healthy);
    cache.setMany([[key, seg(3, true, 5)]]);
    await eventually(async () => (await cache.getMany([key]))[0] !== null);
  }, 30_000);

  it('serves a hit whose answer arrived while the event loop was held past the budget', async () => {
    const quick = new RedisLogprobCache({ url: redis.url, timeoutMs: 50, ttlSeconds: 60 });
    try {
      await eventually(async () => quick.health().healthy);
      const key = 'prm:lp:{t5}:busy';
      quick.setMany([[key, seg(3, true, 8)]]);
      await eventually(async () => (await quick.getMany([key]))[0] !== null);
      for (let round = 0; round < 3; round++) {
        const lookup = quick.getMany([key]);
        // Once the command is sent (ioredis sends its pipeline from an immediate queued before
        // this one), the event loop is held for 3 budgets (another request's work): Redis answers
        // meanwhile, and its answer is read only after that turn, when the budget's timer has run out.
        await new Promise((r) => setImmediate(r));
        const until = performance.now() + 150;
        while (performance.now() < until);
        expect(await lookup).toEqual([seg(3, true, 8)]);
      }
    } finally {
      await quick.close();
    }
  });

  it('treats a hung Redis as a miss within the timeout', async () => {
    const key = 'prm:lp:{t4}:y';
    cache.setMany([[key, seg(2, true, 6)]]);
    await eventually(async () => (await cache.getMany([key]))[0] !== null);
    // SIGSTOP freezes the server with the connection open: the worst case for a client.
    const { execFileSync } = await import('node:child_process');
    const pid = execFileSync('redis-cli', ['-p', String(redis.port), 'info', 'server'])
      .toString()
      .match(/process_id:(\d+)/)![1];
    process.kill(Number(pid), 'SIGSTOP');
    try {
      const t0 = Date.now();
      expect(await cache.getMany([key])).toEqual([null]);
      expect(Date.now() - t0).toBeLessThan(5_000); // bounded, not hanging (generous for CI)
      // The connection is still open, but health says the cache is not answering.
      expect(cache.health()).toMatchObject({ healthy: false, detail: expect.stringContaining('not answering') });
      // A write sent now reaches Redis when it resumes: it must not replace the stored value.
      cache.setMany([[key, seg(2, true, 99)]]);
    } finally {
      process.kill(Number(pid), 'SIGCONT');
    }
    await eventually(async () => cache.health().healthy);
    await new Promise((r) => setTimeout(r, 300));
    expect(await cache.getMany([key])).toEqual([seg(2, true, 6)]);
  }, 30_000);
});
