/**
 * SIGTERM with requests in flight, against a real server process with a real Redis: every request
 * the server had received completes with 200, new connections are refused while they finish, the
 * process exits 0, and its Redis connection is gone (CLIENT LIST) — closed, not left to time out.
 */
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { postJson } from '../helpers/http-load.js';
import { RedisProcess } from '../helpers/redis-server.js';
import { ServerProcess, modelsDirWith } from '../harness/server-process.js';
import { figure } from '../helpers/figures.js';
import { trace } from '../helpers/traces.js';

/** Resolves 'refused' when a TCP connection to `port` is refused, 'accepted' when it opens. */
function tryConnect(port: number): Promise<'refused' | 'accepted'> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', () => resolve('refused'));
  });
}

/** The redis-server's clients other than the probe itself. */
async function otherClients(probe: Redis): Promise<string[]> {
  const self = await probe.client('ID');
  const list = (await probe.client('LIST')) as string;
  return list.split('\n').filter((l) => l.startsWith('id=') && !l.startsWith(`id=${self} `));
}

let redis: RedisProcess | undefined;
afterAll(async () => {
  await redis?.kill();
});

describe('SIGTERM with requests in flight', () => {
  it('finishes every received request, refuses new connections, closes Redis and exits 0', async () => {
    redis = await RedisProcess.start();
    const probe = new Redis(redis.port, '127.0.0.1');
    const server = await ServerProcess.start({
      MODELS_DIR: modelsDirWith('tiny-logprobs'),
      REDIS_URL: redis.url,
      REDIS_TIMEOUT_MS: '250',
      // One row per forward pass and no KV reuse: each request below takes many passes.
      MAX_BATCH_TOKENS: '64',
      MAX_BATCH_WAIT_MS: '0',
      KV_CACHE_MAX_BYTES: '0',
      // The close that follows the drain (test/deploy/sigterm-drain.test.ts covers the drain).
      SHUTDOWN_DRAIN_MS: '0',
    });
    expect(await otherClients(probe)).toHaveLength(1);
    const port = Number(new URL(server.url).port);

    const N = 8;
    const logsBefore = server.logs.length;
    let answered = 0;
    const inflight = Array.from({ length: N }, (_, r) =>
      postJson(`${server.url}/v1/score`, { items: Array.from({ length: 60 }, (_, i) => trace(r * 100 + i, 3)) }).finally(() => answered++),
    );
    // Wait until the server has received all of them (it logs each request it reads).
    const received = (l: { msg?: string; req?: { url?: string } }) => l.msg === 'incoming request' && l.req?.url === '/v1/score';
    for (let i = 0; i < 600 && server.countLogs(received, logsBefore) < N; i++) await new Promise((r) => setTimeout(r, 20));
    expect(server.countLogs(received, logsBefore)).toBe(N);

    const sigtermAt = performance.now();
    server.signal('SIGTERM');
    await server.waitForLog((l) => /shutting down/.test(l.msg ?? ''));
    let refused = false;
    let answeredWhenRefused = -1;
    for (let i = 0; i < 200 && !refused; i++) {
      if ((await tryConnect(port)) === 'refused') {
        refused = true;
        answeredWhenRefused = answered;
      } else await new Promise((r) => setTimeout(r, 10));
    }
    expect(refused, 'new connections were still accepted after SIGTERM').toBe(true);
    expect(answeredWhenRefused, 'every request had finished before connections were refused').toBeLessThan(N);

    const results = await Promise.all(inflight);
    for (const r of results) {
      expect(r.status, JSON.stringify(r.body).slice(0, 200)).toBe(200);
      expect(r.body.results).toHaveLength(60);
    }
    const code = await server.exited;
    expect(code, `exit code; the server's last words:\n${server.logs.slice(-5).map((l) => l.msg).join('\n')}`).toBe(0);
    expect(server.countLogs((l) => /shut down: requests finished, models and caches closed/.test(l.msg ?? ''))).toBe(1);
    expect(await otherClients(probe)).toEqual([]);
    probe.disconnect();
    figure('sigterm', {
      in_flight: N,
      items_each: 60,
      completed_200: results.filter((r) => r.status === 200).length,
      answered_when_new_connections_refused: answeredWhenRefused,
      exit_code: code,
      sigterm_to_exit_ms: Math.round(performance.now() - sigtermAt),
    });
  });
});
