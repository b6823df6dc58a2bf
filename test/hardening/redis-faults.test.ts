/**
 * Redis faults against a real server process and a real redis-server:
 *  - Redis SIGKILLed and restarted while clients keep scoring: zero failed requests, readiness
 *    reports the outage while it lasts, and caching resumes by itself afterwards;
 *  - Redis unreachable at start (closed port) or stuck (SIGSTOP): the server starts, is ready with
 *    the cache listed as degraded, and scores uncached; a stuck Redis that wakes up is used again.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { failures, postJson, runLoad, type Sent } from '../helpers/http-load.js';
import { RedisProcess, freePort } from '../helpers/redis-server.js';
import { ServerProcess, modelsDirWith } from '../harness/server-process.js';
import { figure } from '../helpers/figures.js';
import { trace } from '../helpers/traces.js';

const MODELS_DIR = modelsDirWith('tiny-logprobs');

async function readiness(server: ServerProcess): Promise<{ status: number; body: { ready: boolean; degraded: string[] } }> {
  const res = await fetch(`${server.url}/health/ready`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; degraded: string[] } };
}

/** Polls (bounded) until `check` holds; returns whether it did. */
async function eventually(check: () => Promise<boolean>, tries = 150, everyMs = 100): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return false;
}

/** Scores `item` until a repeat is served entirely from tier 1 (the first store is asynchronous). */
async function fullyCachedEventually(server: ServerProcess, item: object): Promise<boolean> {
  return eventually(async () => {
    const r = await postJson(`${server.url}/v1/score`, { items: [item] });
    expect(r.status).toBe(200);
    return r.body.usage.cached_tokens > 0 && r.body.usage.cached_tokens === r.body.usage.response_tokens;
  });
}

const started: { server?: ServerProcess; redis?: RedisProcess }[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) {
    s.redis?.resume();
    await s.server?.stop();
    await s.redis?.kill();
  }
});
afterAll(async () => {
  for (const s of started) await s.redis?.kill();
});

describe('Redis killed and restarted under load', () => {
  it('fails no request, reports the outage, and caches again once Redis is back', async () => {
    const redis = await RedisProcess.start();
    // A generous Redis budget: this machine is shared, and a slow answer would only be a miss.
    const server = await ServerProcess.start({ MODELS_DIR, REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '250' });
    started.push({ server, redis });

    let phase: 'before' | 'down' | 'restarted' = 'before';
    let degradedSeen = false;
    let restartedAt = 0;
    const phases = new Map<number, string>();
    const sent = await runLoad({
      url: `${server.url}/v1/score`,
      clients: 4,
      // Half repeats of 10 traces (cache hits when Redis is up), half new traces.
      body: (i) => {
        phases.set(i, phase);
        return { items: [i % 2 === 0 ? trace(i % 20, 3) : trace(10_000 + i, 3)] };
      },
      stop: () => phase === 'restarted' && [...phases.values()].filter((p) => p === 'restarted').length >= 40,
      onAnswer: async (_s: Sent, answered: number) => {
        if (phase === 'before' && answered >= 40) {
          phase = 'down';
          await redis.kill();
          degradedSeen = await eventually(async () => {
            const r = await readiness(server);
            return r.status === 200 && r.body.degraded.some((d) => d.includes('tier-1 cache'));
          }, 50);
        } else if (phase === 'down' && answered >= 100) {
          await redis.startProcess();
          restartedAt = performance.now();
          phase = 'restarted';
        }
      },
    });

    expect(failures(sent), JSON.stringify(failures(sent).slice(0, 3))).toEqual([]);
    expect([...phases.values()].filter((p) => p === 'down').length).toBeGreaterThanOrEqual(40);
    expect(degradedSeen, 'readiness did not list the cache as degraded while Redis was down').toBe(true);

    // Back to normal without anyone touching the server.
    expect(await eventually(async () => (await readiness(server)).body.degraded.length === 0)).toBe(true);
    const reconnectedMs = performance.now() - restartedAt;
    const count = (p: string) => [...phases.values()].filter((x) => x === p).length;
    figure('redis-kill-restart', {
      requests: sent.length,
      before: count('before'),
      while_down: count('down'),
      after_restart: count('restarted'),
      failed: failures(sent).length,
      reconnected_ms_after_restart: Math.round(reconnectedMs),
    });
    expect(await fullyCachedEventually(server, trace(77_777, 3))).toBe(true);
    const probe = new Redis(redis.port, '127.0.0.1');
    expect(await probe.dbsize()).toBeGreaterThan(0);
    probe.disconnect();
  });
});

describe('Redis unavailable at start', () => {
  it('closed port: starts, ready with the cache degraded, scores uncached', async () => {
    const port = await freePort();
    const server = await ServerProcess.start({ MODELS_DIR, REDIS_URL: `redis://127.0.0.1:${port}` });
    started.push({ server });
    const r = await readiness(server);
    expect(r.status).toBe(200);
    expect(r.body.ready).toBe(true);
    expect(r.body.degraded.join(' ')).toMatch(/tier-1 cache \(redis\) unavailable/);
    for (let i = 0; i < 3; i++) {
      const s = await postJson(`${server.url}/v1/score`, { items: [trace(5, 3)] });
      expect(s.status).toBe(200);
      expect(s.body.usage.cached_tokens).toBe(0);
    }
  });

  it('stuck Redis (SIGSTOP): starts, ready with the cache degraded, scores; uses Redis once it answers again', async () => {
    const redis = await RedisProcess.start();
    redis.pause();
    const server = await ServerProcess.start({ MODELS_DIR, REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '250' });
    started.push({ server, redis });
    const r = await readiness(server);
    expect(r.status).toBe(200);
    expect(r.body.degraded.join(' ')).toMatch(/tier-1 cache \(redis\) unavailable/);
    const s = await postJson(`${server.url}/v1/score`, { items: [trace(6, 3)] });
    expect(s.status).toBe(200);
    expect(s.body.usage.cached_tokens).toBe(0);

    redis.resume();
    expect(await eventually(async () => (await readiness(server)).body.degraded.length === 0)).toBe(true);
    expect(await fullyCachedEventually(server, trace(8, 3))).toBe(true);
  });
});
