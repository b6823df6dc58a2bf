/**
 * API keys against the real app: which routes need a key under which settings, the 401/403 bodies
 * and headers, admin routes off without ADMIN_API_KEYS, and the constant-time key check itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRing, accessClassOf, bearerToken } from '../../src/http/auth.js';
import { buildLoadedApp, type TestApp as HardenedApp } from '../harness/app.js';
import { trace } from '../helpers/traces.js';

const KEY = 'k-live-0123456789abcdef';
const ADMIN = 'k-admin-fedcba9876543210';
const score = { items: [trace(1)] };
const bearer = (k: string) => ({ authorization: `Bearer ${k}` });

describe('with API_KEYS and ADMIN_API_KEYS', () => {
  let h: HardenedApp;
  beforeAll(async () => {
    h = await buildLoadedApp({ API_KEYS: `other-key,${KEY}`, ADMIN_API_KEYS: ADMIN });
  });
  afterAll(() => h?.close());

  const inference = [
    { method: 'POST', url: '/v1/score', payload: score },
    { method: 'POST', url: '/get_reward', payload: { query: ['12+5\n12+5=17'] } },
    { method: 'GET', url: '/v1/models' },
  ] as const;

  for (const r of inference) {
    it(`${r.method} ${r.url}: 401 without a key or with a wrong one, 200 with a valid one`, async () => {
      const none = await h.app.inject({ ...r });
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      expect(none.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.stringContaining('Bearer') } });

      for (const headers of [bearer('wrong'), bearer(`${KEY}x`), bearer(KEY.slice(0, -1)), { authorization: KEY }, { authorization: `Basic ${KEY}` }]) {
        const bad = await h.app.inject({ ...r, headers });
        expect(bad.statusCode, JSON.stringify(headers)).toBe(401);
        expect(bad.json().error.code).toBe('UNAUTHORIZED');
      }
      for (const k of [KEY, 'other-key', ADMIN]) {
        const ok = await h.app.inject({ ...r, headers: bearer(k) });
        expect(ok.statusCode, ok.body).toBe(200);
      }
      // The scheme is case-insensitive (RFC 7235).
      expect((await h.app.inject({ ...r, headers: { authorization: `bearer ${KEY}` } })).statusCode).toBe(200);
    });
  }

  it('a keyless request is refused before its body is parsed (a broken body still gets 401)', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/v1/score', payload: '{not json', headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(401);
  });

  it('unknown paths need a key too, so they do not reveal what exists', async () => {
    expect((await h.app.inject({ method: 'GET', url: '/v2/secret' })).statusCode).toBe(401);
    expect((await h.app.inject({ method: 'GET', url: '/v2/secret', headers: bearer(KEY) })).statusCode).toBe(404);
  });

  it('health, metrics, docs and the playground page are public by default', async () => {
    for (const url of ['/health/live', '/health/ready', '/metrics', '/docs', '/playground']) {
      const res = await h.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).not.toBe(401);
      expect(res.statusCode, url).toBeLessThan(400);
    }
  });

  it('admin: 401 without a key, 403 FORBIDDEN with an inference key, accepted with an admin key', async () => {
    const none = await h.app.inject({ method: 'POST', url: '/admin/reload', payload: {} });
    expect(none.statusCode).toBe(401);
    const user = await h.app.inject({ method: 'POST', url: '/admin/reload', payload: {}, headers: bearer(KEY) });
    expect(user.statusCode).toBe(403);
    expect(user.json().error.code).toBe('FORBIDDEN');
    const unknown = await h.app.inject({ method: 'POST', url: '/admin/reload', payload: { model: 'no-such-model' }, headers: bearer(ADMIN) });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('MODEL_NOT_FOUND');
    const traversal = await h.app.inject({ method: 'POST', url: '/admin/reload', payload: { model: '..' }, headers: bearer(ADMIN) });
    expect(traversal.statusCode).toBe(404);
  });
});

describe('PUBLIC_HEALTH=false, PUBLIC_METRICS=false', () => {
  let h: HardenedApp;
  beforeAll(async () => {
    h = await buildLoadedApp({ API_KEYS: KEY, PUBLIC_HEALTH: 'false', PUBLIC_METRICS: 'false' });
  });
  afterAll(() => h?.close());

  it('probes and metrics need a key; docs stay public; admin routes do not exist', async () => {
    for (const url of ['/health/live', '/health/ready', '/metrics']) {
      expect((await h.app.inject({ method: 'GET', url })).statusCode, url).toBe(401);
      expect((await h.app.inject({ method: 'GET', url, headers: bearer(KEY) })).statusCode, url).toBe(200);
    }
    expect((await h.app.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
    const admin = await h.app.inject({ method: 'POST', url: '/admin/reload', payload: {}, headers: bearer(KEY) });
    expect(admin.statusCode).toBe(404);
  });
});

describe('without keys', () => {
  let h: HardenedApp;
  beforeAll(async () => {
    h = await buildLoadedApp({});
  });
  afterAll(() => h?.close());

  it('every route answers without a key, and /admin/* does not exist', async () => {
    expect((await h.app.inject({ method: 'POST', url: '/v1/score', payload: score })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'POST', url: '/admin/reload', payload: {} })).statusCode).toBe(404);
  });
});

describe('the key check', () => {
  it('accepts exactly the configured keys, whatever their length, and tells admin keys apart', () => {
    const ring = new KeyRing(['a', 'bb', KEY], [ADMIN]);
    expect(ring.find('a')).toMatchObject({ admin: false });
    expect(ring.find(KEY)).toMatchObject({ admin: false });
    expect(ring.find(ADMIN)).toMatchObject({ admin: true });
    for (const wrong of ['', 'b', 'aa', KEY.toUpperCase(), `${ADMIN} `, 'x'.repeat(10_000)]) expect(ring.find(wrong)).toBeNull();
    // The identity used for rate limits is derived from the key, never the key itself.
    expect(ring.find(KEY)!.id).not.toContain(KEY);
    expect(ring.find(KEY)!.id).toBe(ring.find(KEY)!.id);
    expect(ring.find(KEY)!.id).not.toBe(ring.find('a')!.id);
  });

  it('parses only well-formed bearer headers', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('BEARER   abc')).toBe('abc');
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken('Token abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  it('classifies routes, unknown ones as inference', () => {
    expect(accessClassOf('/v1/score')).toBe('inference');
    expect(accessClassOf(undefined)).toBe('inference');
    expect(accessClassOf('/health/ready')).toBe('health');
    expect(accessClassOf('/metrics')).toBe('metrics');
    expect(accessClassOf('/admin/reload')).toBe('admin');
    expect(accessClassOf('/docs/json')).toBe('public');
    expect(accessClassOf('/playground/main.js')).toBe('public');
    expect(accessClassOf('/administrator')).toBe('inference');
  });
});
