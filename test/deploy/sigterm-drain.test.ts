/**
 * SIGTERM with requests already on the wire: every request sent before the signal is answered
 * (200, in the service's shape — none reset, none given a framework 503), readiness turns 503
 * NOT_READY during the drain, and the process exits 0. Requests go out on keep-alive connections
 * (fetch's pool), the case where a closing server takes a connection whose bytes it has not read
 * for idle.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { postJson } from '../helpers/http-load.js';
import { ServerProcess, modelsDirWith } from '../harness/server-process.js';
import { trace } from '../helpers/traces.js';

let server: ServerProcess | undefined;
afterAll(async () => {
  await server?.stop(5_000);
});

describe('SIGTERM', () => {
  it('answers every request sent before it, reports not ready while draining, and exits 0', async () => {
    server = await ServerProcess.start({ MODELS_DIR: modelsDirWith('tiny-logprobs'), SHUTDOWN_DRAIN_MS: '1500' });
    const url = server.url;
    // Warm connections first, so the burst below reuses them.
    await Promise.all(Array.from({ length: 8 }, () => postJson(`${url}/v1/score`, { items: [trace(3, 2)] })));
    const sent = Array.from({ length: 48 }, (_, i) =>
      postJson(`${url}/v1/score`, { items: [trace(4 + (i % 5), 3)] }).catch((err: Error) => ({ status: 'network-error', body: String(err.cause ?? err) })),
    );
    await new Promise((r) => setTimeout(r, 20));
    server.signal('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const ready = await fetch(`${url}/health/ready`);
    const answers = await Promise.all(sent);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { error: { code: string } }).error.code).toBe('NOT_READY');
    expect(ready.headers.get('retry-after')).toBe('1');
    expect(await server.exited).toBe(0);
  }, 60_000);
});
