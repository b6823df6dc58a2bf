/**
 * Every malformed request gets its own 4xx code in the one error shape, before any model is
 * involved: these run against a service whose models folder is empty.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, emptyModelsDir, type TestApp } from '../harness/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ MODELS_DIR: emptyModelsDir(), MAX_ITEMS_PER_REQUEST: '3', BODY_LIMIT_BYTES: '2048' });
});
afterAll(() => t.close());

const item = { prompt: 'What is 2+3?', steps: ['2+3=5', 'The answer is 5'] };

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await t.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, body: res.json() as { error: { code: string; message: string } }, headers: res.headers };
}

describe('POST /v1/score rejects bad input', () => {
  it('malformed JSON → 400 INVALID_JSON', async () => {
    const r = await post('/v1/score', '{"items": [');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('INVALID_JSON');
  });

  it('empty body with a JSON content type → 400 INVALID_JSON', async () => {
    const r = await post('/v1/score', '');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('INVALID_JSON');
  });

  it.each([
    ['items missing', {}, 'body.items is required'],
    ['items not a list', { items: 'x' }, 'body.items must be array'],
    ['prompt missing', { items: [{ steps: ['a'] }] }, 'body.items[0].prompt is required'],
    ['prompt a number (no coercion)', { items: [{ prompt: 5, steps: ['a'] }] }, 'body.items[0].prompt must be string'],
    ['a step a number', { items: [item, { prompt: 'p', steps: ['a', 7] }] }, 'body.items[1].steps[1] must be string'],
    ['model not a string', { model: 1, items: [item] }, 'body.model must be string'],
    ['unknown field', { items: [item], option: {} }, "body has an unknown field 'option'"],
    ['unknown item field', { items: [{ ...item, answer: 5 }] }, "body.items[0] has an unknown field 'answer'"],
    ['both steps and response', { items: [{ ...item, response: 'x' }] }, "body.items[0] must have exactly one of 'steps' or 'response'"],
    ['neither steps nor response', { items: [{ prompt: 'p' }] }, "body.items[0] must have exactly one of 'steps' or 'response'"],
  ])('%s → 400 INVALID_REQUEST naming the field', async (_name, body, message) => {
    const r = await post('/v1/score', body);
    expect(r.status).toBe(400);
    expect(r.body.error).toEqual({ code: 'INVALID_REQUEST', message });
  });

  it('empty step list → 400 EMPTY_STEPS', async () => {
    const r = await post('/v1/score', { items: [item, { prompt: 'p', steps: [] }] });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('EMPTY_STEPS');
    expect(r.body.error.message).toContain('body.items[1].steps');
  });

  it('empty step → 400 EMPTY_STEP', async () => {
    const r = await post('/v1/score', { items: [{ prompt: 'p', steps: ['a', ''] }] });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('EMPTY_STEP');
    expect(r.body.error.message).toContain('body.items[0].steps[1]');
  });

  it.each([
    ['unknown aggregate', { aggregate: 'max' }, 'body.options.aggregate must be one of "min", "sum", "last", "mean"'],
    ['beta zero', { beta: 0 }, 'body.options.beta must be > 0'],
    ['beta as text', { beta: '0.1' }, 'body.options.beta must be number'],
    ['timeout not an integer', { timeout_ms: 1.5 }, 'body.options.timeout_ms must be integer'],
    ['unknown option', { tokens: true }, "body.options has an unknown field 'tokens'"],
  ])('%s → 400 INVALID_OPTION', async (_name, options, message) => {
    const r = await post('/v1/score', { items: [item], options });
    expect(r.status).toBe(400);
    expect(r.body.error).toEqual({ code: 'INVALID_OPTION', message });
  });

  it('more items than MAX_ITEMS_PER_REQUEST → 413 TOO_MANY_ITEMS', async () => {
    const r = await post('/v1/score', { items: [item, item, item, item] });
    expect(r.status).toBe(413);
    expect(r.body.error).toEqual({ code: 'TOO_MANY_ITEMS', message: '4 items in one request; the limit is 3' });
  });

  it('body over BODY_LIMIT_BYTES → 413 BODY_TOO_LARGE', async () => {
    const r = await post('/v1/score', { items: [{ prompt: 'x'.repeat(4096), steps: ['a'] }] });
    expect(r.status).toBe(413);
    expect(r.body.error).toEqual({ code: 'BODY_TOO_LARGE', message: 'request body is larger than 2048 bytes' });
  });

  it('a content type other than JSON → 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const r = await post('/v1/score', JSON.stringify({ items: [item] }), { 'content-type': 'text/plain' });
    expect(r.status).toBe(415);
    expect(r.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('no body at all → 400 INVALID_REQUEST', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/score' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('INVALID_REQUEST');
  });
});

describe('POST /get_reward rejects bad input', () => {
  it.each([
    ['query missing', {}, 'body.query is required'],
    ['query of numbers', { query: [1] }, 'body.query[0] must be string'],
    ['prompts of another length', { query: ['a\nb'], prompts: [] }, 'body.prompts has 0 entries but body.query has 1'],
  ])('%s → 400 INVALID_REQUEST', async (_name, body, message) => {
    const r = await post('/get_reward', body);
    expect(r.status).toBe(400);
    expect(r.body.error).toEqual({ code: 'INVALID_REQUEST', message });
  });

  it('an unknown aggregate in the query string → 400 INVALID_REQUEST', async () => {
    const r = await post('/get_reward?aggregate=max', { query: [] });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toBe('querystring.aggregate must be one of "min", "sum", "last", "mean"');
  });

  it('unknown body fields are ignored (trainers add fields over time)', async () => {
    const r = await post('/get_reward', { query: [], prompts: [], labels: [], step: 3 });
    expect(r.status).toBe(200);
  });
});

describe('routing errors', () => {
  it('unknown route → 404 ROUTE_NOT_FOUND', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v2/score?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'ROUTE_NOT_FOUND', message: 'no route GET /v2/score' } });
  });

  it('a malformed URL → 400 INVALID_REQUEST', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/%E0%A4%A' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('INVALID_REQUEST');
  });

  it('known route, wrong method → 405 METHOD_NOT_ALLOWED with Allow', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/score' });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(res.json().error.code).toBe('METHOD_NOT_ALLOWED');
  });
});

describe('request bodies are JSON in UTF-8, uncompressed', () => {
  const raw = (payload: Buffer | string, headers: Record<string, string>) =>
    t.app.inject({ method: 'POST', url: '/v1/score', headers: { 'content-type': 'application/json', ...headers }, payload });
  const body = JSON.stringify({ items: [item] });

  it('a declared Content-Encoding → 415 UNSUPPORTED_MEDIA_TYPE, whether or not the body is compressed', async () => {
    const { gzipSync } = await import('node:zlib');
    for (const payload of [body, gzipSync(body)]) {
      const r = await raw(payload, { 'content-encoding': 'gzip' });
      expect(r.statusCode).toBe(415);
      expect(r.json().error).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining('Content-Encoding "gzip"') });
    }
    expect((await raw(body, { 'content-encoding': 'identity' })).json().error?.code).not.toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('a charset other than UTF-8 → 415; UTF-8 in any spelling is fine', async () => {
    const r = await raw(Buffer.from(body, 'utf16le'), { 'content-type': 'application/json; charset=utf-16' });
    expect(r.statusCode).toBe(415);
    expect(r.json().error.message).toContain('charset "utf-16"');
    for (const cs of ['utf-8', 'UTF8', '"utf-8"']) {
      expect((await raw(body, { 'content-type': `application/json; charset=${cs}` })).json().error?.code).not.toBe('UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it('bytes that are not UTF-8 → 400 INVALID_JSON, not replaced and scored', async () => {
    const bad = Buffer.concat([Buffer.from('{"items":[{"prompt":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('","steps":["b"]}]}')]);
    const r = await raw(bad, {});
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toEqual({ code: 'INVALID_JSON', message: 'request body is not valid UTF-8' });
  });

  it('a __proto__ key → 400 INVALID_REQUEST that says so', async () => {
    const r = await raw('{"items":[],"__proto__":{"polluted":true}}', {});
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toEqual({ code: 'INVALID_REQUEST', message: expect.stringContaining('"__proto__"') });
  });
});
