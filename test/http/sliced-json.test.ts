/**
 * Large answers give the event loop back (src/http/sliced-json.ts, routes/reward-samples.ts): an
 * answer serialized a piece at a time is the same bytes as the route's serializer gives for the
 * whole, and other callbacks run while it is built; a /get_reward batch whose work is all cached
 * starts its chunks a few hundred samples per turn of the event loop instead of all in one task. Turns are counted with a
 * setImmediate chain, not timed. The serializers of every route's answer are compiled when the
 * routes are registered, not by their first answers.
 */
import Fastify from 'fastify';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledAnswerSerializers, sendSliced } from '../../src/http/sliced-json.js';
import { buildLoadedApp, type TestApp } from '../harness/app.js';
import { turnsDuring } from '../helpers/turns.js';

const Row = Type.Object({ id: Type.String(), value: Type.Number(), ids: Type.Array(Type.Integer()) });
const Answer = Type.Object({ name: Type.String(), rows: Type.Array(Row) });
const rows = Array.from({ length: 200_000 }, (_, i) => ({ id: `r${i}`, value: i / 7, ids: [i, i + 1], extra: 'not in the schema' }));

describe('sendSliced', () => {
  const app = Fastify();
  app.get('/whole', { schema: { response: { 200: Answer } } }, async () => ({ name: 'x', rows }));
  app.get('/sliced', { schema: { response: { 200: Answer } } }, async (_request, reply) =>
    sendSliced(reply, [{ name: 'name', schema: Answer.properties.name }, { name: 'rows', schema: Row, elements: true }], { name: 'x', rows }));
  afterAll(() => app.close());

  it('gives the bytes of the route serializer, in slices with turns of the event loop between them', async () => {
    const whole = await app.inject({ method: 'GET', url: '/whole' });
    const { result: sliced, turns } = await turnsDuring(() => app.inject({ method: 'GET', url: '/sliced' }));
    expect(sliced.headers['content-type']).toBe(whole.headers['content-type']);
    expect(sliced.body).toBe(whole.body);
    expect(sliced.body).not.toContain('extra');
    // Sent as its pieces, with the whole length declared (not chunked).
    expect(Number(sliced.headers['content-length'])).toBe(Buffer.byteLength(sliced.body));
    expect(sliced.headers['transfer-encoding']).toBeUndefined();
    expect(turns).toBeGreaterThanOrEqual(2);
  });
});

describe('/get_reward of a cached batch', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildLoadedApp({ MAX_ITEMS_PER_REQUEST: '64' });
  });
  afterAll(() => t?.close());

  it('starts its chunks 256 samples per turn of the event loop', async () => {
    const sample = '1+1\n1+1=2\nAnswer: 2';
    const first = await t.app.inject({ method: 'POST', url: '/get_reward', payload: { query: [sample] } });
    expect(first.statusCode).toBe(200);
    const payload = { query: Array.from({ length: 4096 }, () => sample) };
    const { result, turns } = await turnsDuring(() => t.app.inject({ method: 'POST', url: '/get_reward', payload }));
    expect(result.statusCode).toBe(200);
    expect(new Set(result.json().rewards)).toEqual(new Set(first.json().rewards));
    // 64 chunks of 64, four to a turn.
    expect(turns).toBeGreaterThanOrEqual(16);
  });
});

describe('answer serializers', () => {
  it('are compiled when the routes are registered: the first answers of each route compile none', async () => {
    const t = await buildLoadedApp();
    try {
      const before = compiledAnswerSerializers();
      const trace = { prompt: '1+1', steps: ['1+1=2', 'Answer: 2'] };
      const answers = await Promise.all([
        t.app.inject({ method: 'POST', url: '/v1/score', payload: { items: [trace], options: { token_rewards: true } } }),
        t.app.inject({ method: 'POST', url: '/tokenize', payload: { items: [trace] } }),
        t.app.inject({ method: 'POST', url: '/get_reward', payload: { query: ['1+1\n1+1=2\nAnswer: 2'] } }),
      ]);
      expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200]);
      expect(compiledAnswerSerializers()).toBe(before);
    } finally {
      await t.close();
    }
  });
});
