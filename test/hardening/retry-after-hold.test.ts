/**
 * The Retry-After hold against the real server over HTTP and real onnxruntime: a client refused
 * for the backlog (503 with Retry-After) that resends at once on the same connection has that
 * request held, unanswered, until the time it was given, while other connections are served as
 * usual; a request to another route on that connection is not held; draining for shutdown lets
 * a held request go and answers it at once.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { metrics } from '../../src/metrics.js';
import { modelsDirWith, startLiveServer, type TestApp } from '../harness/app.js';
import { trace } from '../helpers/traces.js';

let h: TestApp;
const busy: Promise<unknown>[] = [];
beforeAll(async () => {
  // One bundle, one row per forward pass, no caches, 200 ms deadlines: the calls below make a
  // backlog that refuses every scoring request for seconds.
  h = await startLiveServer({
    MODELS_DIR: modelsDirWith('tiny-logprobs'), MAX_BATCH_TOKENS: '64', MAX_BATCH_WAIT_MS: '0', KV_CACHE_MAX_BYTES: '0', CACHE_MAX_BYTES: '0',
    REQUEST_TIMEOUT_MS: '200', HEADERS_TIMEOUT_MS: '4000', BODY_TIMEOUT_MS: '4000',
  });
}, 120_000);
afterAll(async () => {
  await Promise.all(busy);
  await h?.close();
}, 120_000);

const queueDepth = async () => (await metrics.queueDepth.get()).values[0]?.value ?? 0;
const rowsRun = async () => (await metrics.batchRows.get()).values.find((v) => v.metricName === 'prm_batch_rows_sum')?.value ?? 0;

/** A call with no deadline (not an HTTP request) that keeps the engine busy for a few seconds. */
beforeEach(async () => {
  busy.push(h.scoring.score(undefined, Array.from({ length: 1500 }, (_, i) => trace(20_000 + 1500 * busy.length + i, 3)), {}));
  // The engine's pace is learnt from batches that leave rows waiting: while the call's rows are
  // still being queued a quick engine keeps up with them, so wait for a backlog, then for a few
  // of its batches.
  const wait = () => new Promise((r) => setTimeout(r, 10));
  for (let i = 0; i < 1000 && (await queueDepth()) < 500; i++) await wait();
  const rowsAtBacklog = await rowsRun();
  for (let i = 0; i < 400 && (await rowsRun()) - rowsAtBacklog < 4; i++) await wait();
});

/** A raw keep-alive connection that collects "status retry-after connection" of every answer. */
function connection(): { socket: Socket; answers: string[]; next(): Promise<string> } {
  const { hostname, port } = new URL(h.url);
  const socket = connect(Number(port), hostname);
  const answers: string[] = [];
  const pattern = /HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n[^]*?\}(?=HTTP|$)/;
  let text = '';
  let onAnswer = () => {};
  socket.on('data', (d) => {
    text += d.toString();
    for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
      answers.push(`${m[1]} ${/\r\nretry-after: (\d+)/i.exec(m[0])?.[1] ?? '-'} ${/\r\nconnection: (\S+)/i.exec(m[0])?.[1] ?? '-'}`);
      text = text.slice(m.index + m[0].length);
      onAnswer();
    }
  });
  socket.on('error', () => {});
  const next = () => new Promise<string>((resolve) => {
    const seen = answers.length;
    onAnswer = () => {
      if (answers.length > seen) resolve(answers[seen]!);
    };
  });
  return { socket, answers, next };
}

const body = JSON.stringify({ items: [trace(1, 3)] });
const score = `POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes `request` on the connection; resolves with the answer to it. */
function ask(c: ReturnType<typeof connection>, request: string): Promise<string> {
  const answer = c.next();
  c.socket.write(request);
  return answer;
}

/** A connection whose first /v1/score was refused for the backlog, with a Retry-After. */
async function refusedConnection(): Promise<ReturnType<typeof connection>> {
  const c = connection();
  expect(await ask(c, score)).toMatch(/^503 [1-9]\d* keep-alive$/);
  return c;
}

describe('a connection refused for the backlog', () => {
  it('has a resend held until its Retry-After, while other connections are served', async () => {
    const c = await refusedConnection();
    const sentAt = performance.now();
    const answer = ask(c, score);
    await sleep(700);
    expect(c.answers).toHaveLength(1);
    expect((await fetch(`${h.url}/health/live`)).status).toBe(200);
    // Held up to its Retry-After (at least 1 s), then answered as any other request.
    expect(await answer).toMatch(/^(200|503) /);
    expect(performance.now() - sentAt).toBeGreaterThan(900);
    c.socket.destroy();
  }, 30_000);

  it('does not hold a request to another route', async () => {
    const c = await refusedConnection();
    const sentAt = performance.now();
    const answer = ask(c, 'GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await answer).toMatch(/^200 /);
    expect(performance.now() - sentAt).toBeLessThan(500);
    c.socket.destroy();
  }, 30_000);

  it('has a held request answered at once when the server drains', async () => {
    const c = await refusedConnection();
    const answer = ask(c, score);
    await sleep(300);
    expect(c.answers).toHaveLength(1);
    const startedAt = performance.now();
    void h.app.drain(50);
    expect(await answer).toMatch(/^\d{3} .* close$/);
    expect(performance.now() - startedAt).toBeLessThan(600);
    c.socket.destroy();
  }, 30_000);
});
