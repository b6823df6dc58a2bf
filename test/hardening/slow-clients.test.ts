/**
 * Slow clients are cut by the real server: a body dripped a byte at a time past BODY_TIMEOUT_MS,
 * and headers that never finish past HEADERS_TIMEOUT_MS, get 408 and a closed connection; a
 * normal request on the same server is unaffected.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelsDirWith, ServerProcess } from '../harness/server-process.js';

let server: ServerProcess;
beforeAll(async () => {
  server = await ServerProcess.start({ MODELS_DIR: modelsDirWith('tiny-logprobs'), BODY_TIMEOUT_MS: '1500', HEADERS_TIMEOUT_MS: '1000' });
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

/** Writes `head`, then one byte of `drip` every 200 ms; resolves with what came back and when the socket closed. */
function slowClient(head: string, drip: string): Promise<{ response: string; ms: number }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(Number(port), hostname);
    let response = '';
    let i = 0;
    const timer = setInterval(() => {
      if (i < drip.length && !socket.destroyed) socket.write(drip[i++]!);
    }, 200);
    socket.on('connect', () => socket.write(head));
    socket.on('data', (d) => (response += d.toString()));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ response, ms: Date.now() - started });
    });
  });
}

describe('slow clients', () => {
  it('a dripped body is cut with 408 shortly after BODY_TIMEOUT_MS', async () => {
    const body = JSON.stringify({ items: [{ prompt: '1+1', steps: ['2'] }] });
    const head = `POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const r = await slowClient(head, body);
    expect(r.response).toMatch(/^HTTP\/1\.1 408/);
    expect(JSON.parse(r.response.slice(r.response.indexOf('\r\n\r\n') + 4)).error.code).toBe('REQUEST_TIMEOUT');
    expect(r.ms).toBeGreaterThanOrEqual(1400);
    expect(r.ms).toBeLessThan(1500 + 3000);
  });

  it('headers that never finish are cut with 408 shortly after HEADERS_TIMEOUT_MS', async () => {
    const r = await slowClient('GET /health/live HTTP/1.1\r\nHost: x\r\n', 'X-Slow: ' + 'a'.repeat(100));
    expect(r.response).toMatch(/^HTTP\/1\.1 408/);
    expect(r.ms).toBeLessThan(1000 + 3000);
  });

  it('normal requests are unaffected', async () => {
    const res = await fetch(`${server.url}/health/live`);
    expect(res.status).toBe(200);
  });
});
