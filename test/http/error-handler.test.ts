/**
 * The error handler on the real app, with routes added by the test that fail the ways real code
 * can: a bug (plain exception), an overload with Retry-After.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, PrmError } from '../../src/errors.js';
import { buildTestApp, emptyModelsDir, type TestApp } from '../harness/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ MODELS_DIR: emptyModelsDir() });
  t.app.get('/test/bug', async () => {
    throw new TypeError('cannot read properties of undefined (secret internals)');
  });
  t.app.get('/test/bug-sync', () => {
    JSON.parse('{');
  });
  t.app.get('/test/overloaded', async () => {
    throw new PrmError(ErrorCode.OVERLOADED, 'queue full', { retryAfterS: 1.2 });
  });
});
afterAll(() => t.close());

describe('error handler', () => {
  it('turns an unexpected exception into 500 INTERNAL without leaking its message', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/test/bug' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'INTERNAL', message: 'internal error; the server log has details' } });
    expect(res.body).not.toContain('secret');
  });

  it('treats a SyntaxError thrown by our own code as a bug, not as bad JSON from the client', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/test/bug-sync' });
    expect(res.statusCode).toBe(500);
    expect(res.json().error.code).toBe('INTERNAL');
  });

  it('keeps serving after a failure', async () => {
    await t.app.inject({ method: 'GET', url: '/test/bug' });
    const res = await t.app.inject({ method: 'GET', url: '/health/live' });
    expect(res.statusCode).toBe(200);
  });

  it('sends a PrmError with its status and a whole-second Retry-After', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/test/overloaded' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.json()).toEqual({ error: { code: 'OVERLOADED', message: 'queue full' } });
  });
});
