/**
 * Requests with a body are admitted before their body is read (src/http/body-budget.ts): at most
 * MAX_CONCURRENT_REQUESTS of them, /tokenize and /get_reward included, and at most
 * MAX_BODY_BYTES_IN_FLIGHT declared bytes together; the next one gets 503 OVERLOADED with
 * Retry-After, and the room comes back when a request ends, however it ends (answered, or its
 * client gone mid-body). Requests are held open by raw sockets that send headers and no body.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLiveServer, type TestApp } from '../harness/app.js';

/** A request that declares `length` body bytes and sends none: it holds its place until closed. */
async function hold(url: string, path: string, length: number): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(`POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`);
  open.add(socket);
  // Until the server has taken the headers in.
  await new Promise((r) => setTimeout(r, 100));
  return socket;
}

const open = new Set<Socket>();

async function closed(socket: Socket): Promise<void> {
  open.delete(socket);
  socket.destroy();
  await new Promise((r) => setTimeout(r, 100));
}

const post = (url: string, path: string, body: unknown) =>
  fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const item = { prompt: '1+1', steps: ['1+1=2', 'Answer: 2'] };

describe('requests with a body in flight', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startLiveServer({ MAX_CONCURRENT_REQUESTS: '2', MAX_BODY_BYTES_IN_FLIGHT: '4096' });
  });
  afterAll(async () => {
    for (const s of open) await closed(s);
    await t?.close();
  });

  it('are at most MAX_CONCURRENT_REQUESTS, /tokenize and /get_reward included; a request without a body is not counted', async () => {
    const a = await hold(t.url, '/tokenize', 10);
    const b = await hold(t.url, '/get_reward', 10);
    const refused = await post(t.url, '/v1/score', { items: [item] });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('OVERLOADED');
    expect((await fetch(`${t.url}/health/live`)).status).toBe(200);
    await closed(a);
    expect((await post(t.url, '/v1/score', { items: [item] })).status).toBe(200);
    await closed(b);
  });

  it('declare at most MAX_BODY_BYTES_IN_FLIGHT bytes together, though one alone may declare more', async () => {
    const big = await hold(t.url, '/v1/score', 3000);
    const refused = await post(t.url, '/tokenize', { items: [{ ...item, prompt: 'x'.repeat(1500) }] });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/request bodies of 3000 bytes are being served \(the limit is 4096\)/);
    expect((await post(t.url, '/tokenize', { items: [item] })).status).toBe(200);
    await closed(big);
    const alone = await post(t.url, '/tokenize', { items: [{ ...item, prompt: '1'.repeat(5000) }] });
    expect(alone.status).not.toBe(503);
  });
});
