/**
 * Retry-After held per connection, against the real server over HTTP: a client answered 429 with
 * Retry-After that resends at once on the same connection has its request held, unanswered, until
 * then, while other connections are served as usual; draining for shutdown answers it at once.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLiveServer, type TestApp } from '../harness/app.js';

let h: TestApp;
beforeAll(async () => {
  h = await startLiveServer({ RATE_LIMIT_PER_MINUTE: '1' });
}, 120_000);
afterAll(() => h?.close());

/** A raw keep-alive connection that collects the status line of every response it gets. */
function connection(): { socket: Socket; statuses: string[]; next(): Promise<string> } {
  const { hostname, port } = new URL(h.url);
  const socket = connect(Number(port), hostname);
  const statuses: string[] = [];
  let text = '';
  let waiter: (() => void) | null = null;
  socket.on('data', (d) => {
    text += d.toString();
    for (let m = /HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n[^]*?\}(?=HTTP|$)/.exec(text); m; m = /HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n[^]*?\}(?=HTTP|$)/.exec(text)) {
      statuses.push(`${m[1]} ${/\r\nretry-after: (\d+)/i.exec(m[0])?.[1] ?? '-'} ${/\r\nconnection: (\S+)/i.exec(m[0])?.[1] ?? '-'}`);
      text = text.slice(m.index + m[0].length);
      waiter?.();
    }
  });
  socket.on('error', () => {});
  const next = () => new Promise<string>((resolve) => {
    const seen = statuses.length;
    waiter = () => {
      if (statuses.length > seen) resolve(statuses[seen]!);
    };
  });
  return { socket, statuses, next };
}

const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a connection told Retry-After', () => {
  it('has its next request held until then, other connections are served meanwhile, and draining answers it', async () => {
    const c = connection();
    c.socket.write(request('/v1/models'));
    expect(await c.next()).toMatch(/^200 /);
    c.socket.write(request('/v1/models'));
    const refused = await c.next();
    expect(refused).toMatch(/^429 \d+ keep-alive$/);
    expect(Number(refused.split(' ')[1])).toBeGreaterThan(5);

    // Resent at once on the same connection: held, not answered.
    c.socket.write(request('/v1/models'));
    await sleep(800);
    expect(c.statuses).toHaveLength(2);
    // The server itself is not held: another connection is served at once.
    expect((await fetch(`${h.url}/health/live`)).status).toBe(200);

    // Draining for shutdown lets the held request go and answers it, closing the connection.
    const answered = c.next();
    const startedAt = performance.now();
    void h.app.drain(50);
    expect(await answered).toMatch(/^429 \d+ close$/);
    expect(performance.now() - startedAt).toBeLessThan(2000);
    c.socket.destroy();
  }, 30_000);
});
