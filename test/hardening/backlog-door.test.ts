/**
 * The backlog door against the real server over HTTP and real onnxruntime: when the engine's
 * backlog alone outlasts REQUEST_TIMEOUT_MS, a scoring request is answered 503 OVERLOADED with
 * Retry-After from its headers, its body never read (the request below never sends one), while a
 * route that queues no engine work still waits for its body as usual.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metrics } from '../../src/metrics.js';
import { modelsDirWith, startLiveServer, type TestApp } from '../harness/app.js';
import { trace } from '../helpers/traces.js';

let h: TestApp;
beforeAll(async () => {
  // One bundle (the door refuses only when every bundle's backlog is too long), one row per forward
  // pass and no caches: a 1 000-item call keeps the engine busy for a while.
  h = await startLiveServer({ MODELS_DIR: modelsDirWith('tiny-logprobs'), MAX_BATCH_TOKENS: '64', MAX_BATCH_WAIT_MS: '0', KV_CACHE_MAX_BYTES: '0', CACHE_MAX_BYTES: '0', REQUEST_TIMEOUT_MS: '200', HEADERS_TIMEOUT_MS: '3000', BODY_TIMEOUT_MS: '3000' });
}, 120_000);
afterAll(() => h?.close());

const queueDepth = async () => (await metrics.queueDepth.get()).values[0]?.value ?? 0;
const rowsRun = async () => (await metrics.batchRows.get()).values.find((v) => v.metricName === 'prm_batch_rows_sum')?.value ?? 0;

/** Sends `head` and no body; resolves with what came back within `waitMs` (or at close). */
function headersOnly(head: string, waitMs: number): Promise<{ response: string; ms: number }> {
  const { hostname, port } = new URL(h.url!);
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(Number(port), hostname);
    let response = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ response, ms: performance.now() - started });
    };
    const timer = setTimeout(done, waitMs);
    socket.on('connect', () => socket.write(head));
    socket.on('data', (d) => {
      response += d.toString();
      if (response.includes('\r\n\r\n') && response.endsWith('}')) done();
    });
    socket.on('error', () => {});
    socket.on('close', done);
  });
}

const head = (path: string) => `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n`;

describe('the backlog door', () => {
  it('refuses a scoring request from its headers while the backlog outlasts the longest deadline', async () => {
    // No deadline on this call (it is not an HTTP request): it builds the backlog and finishes.
    const busy = h.scoring.score(undefined, Array.from({ length: 1000 }, (_, i) => trace(5000 + i, 3)), {});
    // The engine's pace is learnt from batches that leave rows waiting: while the call's rows are
    // still being queued a quick engine keeps up with them, so wait for a backlog, then for a few
    // of its batches.
    const sleep = () => new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 1000 && (await queueDepth()) < 500; i++) await sleep();
    const rowsAtBacklog = await rowsRun();
    for (let i = 0; i < 400 && (await rowsRun()) - rowsAtBacklog < 4; i++) await sleep();
    const refusedBefore = (await metrics.rejected.get()).values.find((v) => v.labels.reason === 'overloaded')?.value ?? 0;

    for (const path of ['/v1/score', '/get_reward']) {
      const r = await headersOnly(head(path), 2000);
      expect(r.response, path).toMatch(/^HTTP\/1\.1 503/);
      expect(r.response).toMatch(/\r\nretry-after: [1-9]\d*\r\n/i);
      expect(JSON.parse(r.response.slice(r.response.indexOf('\r\n\r\n') + 4)).error.code).toBe('OVERLOADED');
      expect(r.ms).toBeLessThan(1000);
    }
    expect((await metrics.rejected.get()).values.find((v) => v.labels.reason === 'overloaded')?.value).toBe(refusedBefore + 2);

    // /tokenize queues no engine work: it waits for its body, and gets nothing back meanwhile.
    const tokenize = await headersOnly(head('/tokenize'), 500);
    expect(tokenize.response).toBe('');
    await busy;
  }, 60_000);

  it('lets requests in again once the backlog has drained', async () => {
    const res = await fetch(`${h.url}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items: [trace(1, 3)] }) });
    expect(res.status, await res.clone().text()).toBe(200);
  });
});
