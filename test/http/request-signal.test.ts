/**
 * The request signal over real HTTP: a client that hangs up aborts the work it asked for, and a
 * deadline turns into 504 whether or not the work honours the signal.
 */
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrmError } from '../../src/errors.js';
import { untilAborted, withRequestSignal } from '../../src/http/request-signal.js';
import { buildTestApp, emptyModelsDir, type TestApp } from '../harness/app.js';

const never = () => new Promise<never>(() => undefined);

let t: TestApp;
let started: Promise<void>;
let onStarted: () => void;
let aborted: Promise<unknown>;
let onAborted: (reason: unknown) => void;

beforeAll(async () => {
  t = await buildTestApp({ MODELS_DIR: emptyModelsDir() });
  started = new Promise((resolve) => (onStarted = resolve));
  aborted = new Promise((resolve) => (onAborted = resolve));
  // Work that only ends when its signal fires, like a scoring call stuck in a queue.
  t.app.get('/test/hang', async (_req, reply) =>
    withRequestSignal(reply, 60_000, (signal) => {
      signal.addEventListener('abort', () => onAborted(signal.reason));
      onStarted();
      return never();
    }),
  );
  // Work that ignores its signal altogether.
  t.app.get('/test/deaf', async (_req, reply) => withRequestSignal(reply, 1, () => never()));
  await t.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => t.close());

describe('request signal', () => {
  it('aborts the work with CLIENT_CLOSED when the client disconnects', async () => {
    const { port } = t.app.server.address() as AddressInfo;
    const req = request({ host: '127.0.0.1', port, path: '/test/hang' });
    req.on('error', () => undefined);
    req.end();
    await started;
    req.destroy();
    const reason = await aborted;
    expect(reason).toBeInstanceOf(PrmError);
    expect((reason as PrmError).code).toBe('CLIENT_CLOSED');
  });

  it('answers 504 DEADLINE_EXCEEDED at the deadline even when the work ignores the signal', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/test/deaf' });
    expect(res.statusCode).toBe(504);
    expect(res.json()).toEqual({
      error: { code: 'DEADLINE_EXCEEDED', message: 'request did not finish within its 1 ms deadline' },
    });
  });

  it('untilAborted passes results and errors through while the signal is quiet', async () => {
    const signal = new AbortController().signal;
    await expect(untilAborted(Promise.resolve(7), signal)).resolves.toBe(7);
    await expect(untilAborted(Promise.reject(new Error('x')), signal)).rejects.toThrow('x');
  });

  it('untilAborted rejects at once with the reason of an already aborted signal', async () => {
    const c = new AbortController();
    c.abort(new Error('gone'));
    await expect(untilAborted(never(), c.signal)).rejects.toThrow('gone');
  });
});
