/**
 * Scale-out: two server processes sharing one redis-server. A trace scored on replica A is served
 * entirely from the shared tier-1 cache on replica B (cached_tokens equals its response tokens),
 * with the same numbers A computed.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { postJson } from '../helpers/http-load.js';
import { RedisProcess } from '../helpers/redis-server.js';
import { ServerProcess, modelsDirWith } from '../harness/server-process.js';
import { figure } from '../helpers/figures.js';
import { trace } from '../helpers/traces.js';

const running: ServerProcess[] = [];
let redis: RedisProcess | undefined;
afterAll(async () => {
  for (const s of running) expect(await s.stop()).toBe(0);
  await redis?.kill();
});

describe('two replicas, one Redis', () => {
  it('a trace scored on one replica is a full cache hit on the other', async () => {
    redis = await RedisProcess.start();
    const env = { MODELS_DIR: modelsDirWith('tiny-logprobs', 'tiny-ref-free'), REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '250' };
    const [a, b] = await Promise.all([ServerProcess.start(env), ServerProcess.start(env)]);
    running.push(a!, b!);
    expect(a!.pid).not.toBe(b!.pid);
    const probe = new Redis(redis.port, '127.0.0.1');

    for (const model of ['tiny-logprobs', 'tiny-ref-free']) {
      const body = { model, items: [trace(42, 4), trace(43, 2)], options: { token_rewards: true } };
      const onA = await postJson(`${a!.url}/v1/score`, body);
      expect(onA.status).toBe(200);
      expect(onA.body.usage.cached_tokens).toBe(0);
      // A stores its segments after answering; wait until they are all in Redis (6 step segments
      // per model), however long that takes on a busy machine.
      const keys = model === 'tiny-logprobs' ? 6 : 12;
      for (let i = 0; i < 200 && (await probe.dbsize()) < keys; i++) await new Promise((r) => setTimeout(r, 25));
      expect(await probe.dbsize()).toBe(keys);

      const onB = await postJson(`${b!.url}/v1/score`, body);
      expect(onB.status).toBe(200);
      expect(onB.body.usage.response_tokens).toBeGreaterThan(0);
      expect(onB.body.usage.cached_tokens).toBe(onB.body.usage.response_tokens);
      for (const r of onB.body.results) expect(r.cached_tokens).toBe(r.steps.reduce((n: number, s: { tokens: number }) => n + s.tokens, 0));
      // The same numbers: B read A's float32 log-probs and applied the same maths.
      figure('scale-out', { model, response_tokens_on_b: onB.body.usage.response_tokens, cached_tokens_on_b: onB.body.usage.cached_tokens });
      expect(onB.body.results).toEqual(onA.body.results.map((r: { cached_tokens: number }) => ({ ...r, cached_tokens: expect.any(Number) })));
    }
    probe.disconnect();
  });
});
