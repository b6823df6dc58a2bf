/**
 * The cached paths against the uncached one, on the tiny transformer bundles (real attention, so a
 * wrong past or offset changes the numbers) with tier 1 in a real redis-server:
 *  - a repeated request is served from tier 1 and equals the uncached result within 1e-6;
 *  - extending a partial trace one step at a time (tree search) reuses tier 1 + tier 2 and equals
 *    the uncached score of the same trace;
 *  - many rollouts of one prompt share the prompt's KV and equal their uncached scores;
 *  - concurrent single-item requests (batched together) equal one request with all items (1e-5);
 *  - Redis dying mid-run degrades to uncached scoring with no failed request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaches } from '../../src/cache/create-caches.js';
import { RedisLogprobCache } from '../../src/cache/redis-logprob-cache.js';
import type { LoadingScoringService } from '../../src/core/scoring-service.js';
import { testConfig, testScoringService } from '../harness/app.js';
import type { ItemResult, ScoreItemInput, ScoreOptions } from '../../src/core/types.js';
import { RedisProcess } from '../helpers/redis-server.js';
import { trace } from '../helpers/traces.js';

const MODELS = 'test/fixtures/bundles';
const FLAVOURS = ['tiny-logprobs', 'tiny-logits', 'tiny-ref-free'];

function uncachedService(): LoadingScoringService {
  return testScoringService({ MODELS_DIR: MODELS, CACHE_MAX_BYTES: '0', KV_CACHE_MAX_BYTES: '0' });
}

function expectSame(a: ItemResult, b: ItemResult, tol: number): void {
  expect(a.steps.length).toBe(b.steps.length);
  a.steps.forEach((s, k) => {
    expect(s.tokens).toBe(b.steps[k].tokens);
    expect(Math.abs(s.q - b.steps[k].q)).toBeLessThanOrEqual(tol);
    expect(Math.abs(s.reward - b.steps[k].reward)).toBeLessThanOrEqual(tol);
  });
  expect(Math.abs(a.score - b.score)).toBeLessThanOrEqual(tol);
}

let redis: RedisProcess;
let plain: LoadingScoringService;
let cached: LoadingScoringService;
let tier1: RedisLogprobCache;

beforeAll(async () => {
  redis = await RedisProcess.start();
  const env = {
    MODELS_DIR: MODELS, REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '500', CACHE_TTL_SECONDS: '300',
    KV_CACHE_MAX_BYTES: String(64 * 1024 * 1024), MAX_BATCH_TOKENS: '4096', MAX_BATCH_WAIT_MS: '5', MAX_QUEUE_ROWS: '1000',
  };
  const caches = createCaches(testConfig(env));
  tier1 = caches.logprobs as RedisLogprobCache;
  for (let i = 0; i < 100 && !tier1.health().healthy; i++) await new Promise((r) => setTimeout(r, 20));
  plain = uncachedService();
  cached = testScoringService(env, { caches });
  await Promise.all([plain.whenLoaded(), cached.whenLoaded()]);
});

afterAll(async () => {
  await Promise.all([plain?.close(), cached?.close()]);
  await redis?.kill();
});

async function scoreBoth(model: string, items: ScoreItemInput[], options: ScoreOptions = {}) {
  const [a, b] = await Promise.all([plain.score(model, items, options), cached.score(model, items, options)]);
  return { plain: a, cached: b };
}

async function waitForRedisWrites(): Promise<void> {
  // Tier-1 stores are fire-and-forget; give the pipeline a moment to reach Redis.
  await new Promise((r) => setTimeout(r, 100));
}

describe.each(FLAVOURS)('cached scoring on %s', (model) => {
  it('serves a repeated request from tier 1, identical to the uncached result', async () => {
    const items = [0, 1, 2].map((i) => trace(100 + i + model.length, 3 + i));
    const first = await scoreBoth(model, items);
    first.cached.results.forEach((r, i) => expectSame(r, first.plain.results[i], 1e-6));
    await waitForRedisWrites();
    const again = await cached.score(model, items, {});
    again.results.forEach((r, i) => {
      expect(r.cached_tokens).toBe(first.plain.usage.response_tokens === 0 ? 0 : r.steps.reduce((s, x) => s + x.tokens, 0));
      expectSame(r, first.plain.results[i], 1e-6);
    });
    expect(again.usage.cached_tokens).toBe(again.usage.response_tokens);
  });

  it('extends a partial trace step by step reusing both tiers, equal to uncached scoring', async () => {
    const t = trace(7 + model.length, 6);
    for (let k = 1; k <= t.steps.length; k++) {
      const item = [{ prompt: t.prompt, steps: t.steps.slice(0, k) }];
      const options = { partial: k < t.steps.length };
      const { plain: p, cached: c } = await scoreBoth(model, item, options);
      expectSame(c.results[0], p.results[0], 1e-5);
      if (k > 1) {
        // every earlier step came from tier 1
        const earlier = c.results[0].steps.slice(0, k - 1).reduce((s, x) => s + x.tokens, 0);
        expect(c.results[0].cached_tokens).toBeGreaterThanOrEqual(earlier);
      }
      await waitForRedisWrites();
    }
  });

  it('scores many rollouts of one prompt (shared prompt KV) equal to uncached', async () => {
    const prompt = `${model.length * 13}+58*3-7`;
    const items = Array.from({ length: 6 }, (_, i) => ({ prompt, steps: trace(300 + i, 2 + (i % 4)).steps }));
    const { plain: p, cached: c } = await scoreBoth(model, items);
    c.results.forEach((r, i) => expectSame(r, p.results[i], 1e-5));
  });

  it('batches concurrent one-item requests to the same numbers as one many-item request', async () => {
    const items = Array.from({ length: 8 }, (_, i) => trace(500 + i * 3 + model.length, 2 + (i % 5)));
    const together = await plain.score(model, items, {});
    const alone = await Promise.all(items.map((it) => cached.score(model, [it], {})));
    alone.forEach((r, i) => expectSame(r.results[0], together.results[i], 1e-5));
  });
});

describe('Redis failure under load', () => {
  it('keeps answering (uncached) while Redis is down and caches again after it restarts', async () => {
    const items = Array.from({ length: 4 }, (_, i) => trace(900 + i, 3));
    const reference = await plain.score('tiny-logprobs', items, {});
    const load = (async () => {
      const results = [];
      for (let i = 0; i < 20; i++) results.push(await cached.score('tiny-logprobs', [items[i % 4]], {}));
      return results;
    })();
    await redis.kill();
    const during = await load; // none may fail
    during.forEach((r, i) => expectSame(r.results[0], reference.results[i % 4], 1e-6));
    expect(cached.readiness().degraded.some((d) => d.includes('tier-1 cache'))).toBe(true);
    expect(cached.readiness().ready).toBe(true);
    await redis.startProcess();
    for (let i = 0; i < 200 && !tier1.health().healthy; i++) await new Promise((r) => setTimeout(r, 25));
    await cached.score('tiny-logprobs', [items[0]], {});
    await waitForRedisWrites();
    const hit = await cached.score('tiny-logprobs', [items[0]], {});
    expect(hit.results[0].cached_tokens).toBe(hit.usage.response_tokens);
  }, 30_000);
});
