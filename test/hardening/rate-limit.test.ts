/**
 * RATE_LIMIT_PER_MINUTE: per API key (per address without keys), inference routes only, answered
 * as 429 RATE_LIMITED in the service's error body with Retry-After.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLoadedApp, type TestApp as HardenedApp } from '../harness/app.js';
import { trace } from '../helpers/traces.js';

describe('per API key', () => {
  let h: HardenedApp;
  beforeAll(async () => {
    h = await buildLoadedApp({ API_KEYS: 'key-a,key-b', RATE_LIMIT_PER_MINUTE: '3' });
  });
  afterAll(() => h?.close());

  const as = (key: string, url = '/v1/models') => h.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });

  it('the fourth request of a key in a minute gets 429 RATE_LIMITED; other keys and probes are unaffected', async () => {
    for (let i = 0; i < 3; i++) expect((await as('key-a')).statusCode).toBe(200);
    const limited = await as('key-a');
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toEqual({ error: { code: 'RATE_LIMITED', message: expect.stringContaining('3 requests per minute') } });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Scoring counts against the same budget.
    const scored = await h.app.inject({
      method: 'POST',
      url: '/v1/score',
      payload: { items: [trace(1)] },
      headers: { authorization: 'Bearer key-a' },
    });
    expect(scored.statusCode).toBe(429);

    expect((await as('key-b')).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) {
      expect((await h.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
      expect((await h.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    }
    // A wrong key is refused by the key check, and counted against its address.
    expect((await as('key-c')).statusCode).toBe(401);
  });

  it('wrong keys are rate-limited by address: guessing stops at the limit', async () => {
    const guess = (key: string) => h.app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: `Bearer ${key}` }, remoteAddress: '10.0.0.9' });
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await guess(`wrong-${i}`)).statusCode);
    expect(codes).toEqual([401, 401, 401, 429, 429, 429]);
    // A valid key from that address has its own budget.
    expect((await h.app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: 'Bearer key-b' }, remoteAddress: '10.0.0.9' })).statusCode).toBe(200);
  });
});

describe('without keys', () => {
  let h: HardenedApp;
  beforeAll(async () => {
    h = await buildLoadedApp({ RATE_LIMIT_PER_MINUTE: '2' });
  });
  afterAll(() => h?.close());

  it('limits by client address', async () => {
    const from = (remoteAddress: string) => h.app.inject({ method: 'GET', url: '/v1/models', remoteAddress });
    expect((await from('10.0.0.1')).statusCode).toBe(200);
    expect((await from('10.0.0.1')).statusCode).toBe(200);
    expect((await from('10.0.0.1')).statusCode).toBe(429);
    expect((await from('10.0.0.2')).statusCode).toBe(200);
  });
});
