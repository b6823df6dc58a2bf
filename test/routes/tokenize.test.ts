/**
 * POST /tokenize against the tiny test bundles: it answers with the ids /v1/score scores (checked
 * against token_ids and step token counts of real scoring calls and against the bundle's vocab), the
 * rendered text with each token's offsets, /v1/score's checks and limits, and an API key like
 * the scoring routes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, modelsDirWith, type TestApp } from '../harness/app.js';
import { charBundle } from '../helpers/char-vocab.js';

interface Tokenized {
  id: string; prompt_text: string; prompt_ids: number[]; response_text: string;
  step_ids: number[][]; step_offsets: [number, number][][] | null;
  response_ids: number[]; step_ends: number[]; prompt_tokens: number; response_tokens: number; total_tokens: number;
}

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ MODELS_DIR: modelsDirWith('tiny-logprobs', 'tiny-ref-free'), DEFAULT_MODEL: 'tiny-logprobs' }, { loaded: true });
});
afterAll(() => t.close());

const chars = charBundle('tiny-logprobs');
const items = [
  { id: 'steps', prompt: '12+7*3', steps: ['7*3=21', '12+21=33', 'The answer is 33'] },
  { prompt: '3+4', response: '3+4=7\nAnswer: 7\n' },
];

async function post(url: string, payload: object, headers: Record<string, string> = {}) {
  const res = await t.app.inject({ method: 'POST', url, payload, headers });
  return { status: res.statusCode, body: res.json() };
}

describe('POST /tokenize', () => {
  it('answers with the ids /v1/score scores, cut into the same steps', async () => {
    for (const partial of [false, true]) {
      const tok = await post('/tokenize', { items, options: { partial } });
      expect(tok.status, JSON.stringify(tok.body)).toBe(200);
      const score = await post('/v1/score', { items, options: { token_rewards: true, partial } });
      expect(score.status).toBe(200);
      const results: Tokenized[] = tok.body.results;
      expect(results.map((r) => r.id)).toEqual(['steps', '1']);
      results.forEach((r, i) => {
        const scored = score.body.results[i];
        expect(r.step_ids).toEqual(scored.token_ids);
        expect(r.step_offsets).toEqual(scored.token_offsets);
        expect(r.step_ids.map((s) => s.length)).toEqual(scored.steps.map((s: { tokens: number }) => s.tokens));
        expect(r.response_ids).toEqual(r.step_ids.flat());
        expect(r.step_ends.at(-1)).toBe(r.response_ids.length);
        expect([r.prompt_tokens, r.response_tokens, r.total_tokens]).toEqual([r.prompt_ids.length, r.response_ids.length, r.prompt_ids.length + r.response_ids.length]);
      });
      const usage = score.body.usage;
      expect(usage.prompt_tokens).toBe(results.reduce((n, r) => n + r.prompt_tokens, 0));
      expect(usage.response_tokens).toBe(results.reduce((n, r) => n + r.response_tokens, 0));
    }
  });

  it('renders the text as the model sees it, with each token\'s characters', async () => {
    const [first, second]: Tokenized[] = (await post('/tokenize', { items })).body.results;
    expect(first!.prompt_text).toBe('Problem: 12+7*3\nSolution:\n');
    expect(first!.prompt_ids).toEqual(chars.idOf(first!.prompt_text));
    expect(first!.response_text).toBe('7*3=21\n12+21=33\nThe answer is 33');
    expect(second!.response_text).toBe('3+4=7\nAnswer: 7');
    expect(first!.response_ids).toEqual([...chars.idOf(first!.response_text), chars.eosId]);
    expect(first!.step_ends).toEqual([7, 16, 33]);
    for (const r of [first!, second!]) {
      const spans = r.step_offsets!.flat();
      r.response_ids.forEach((id, k) => {
        const [start, end] = spans[k]!;
        expect(r.response_text.slice(start, end)).toBe(id === chars.eosId ? '' : r.response_text[k]);
      });
    }
    const partial: Tokenized = (await post('/tokenize', { items: [items[0]], options: { partial: true } })).body.results[0];
    expect(partial.response_text).toBe('7*3=21\n12+21=33\nThe answer is 33\n');
    expect(partial.response_ids).toEqual(chars.idOf(partial.response_text));
  });

  it('has /v1/score\'s checks, limits and model choice', async () => {
    const refused = async (payload: object) => {
      const r = await post('/tokenize', payload);
      return [r.status, r.body.error?.code];
    };
    expect(await refused({ items: [{ prompt: '1', steps: ['a', ''] }] })).toEqual([400, 'EMPTY_STEP']);
    expect(await refused({ items: [{ prompt: '1', steps: ['a'], response: 'a' }] })).toEqual([400, 'INVALID_REQUEST']);
    expect(await refused({ items: [{ prompt_ids: [3], response_ids: [3], step_ends: [1] }] })).toEqual([400, 'INVALID_REQUEST']);
    expect(await refused({ items: [{ prompt: '1', steps: ['1'.repeat(300)] }] })).toEqual([413, 'SEQUENCE_TOO_LONG']);
    expect(await refused({ model: 'nope', items: [] })).toEqual([404, 'MODEL_NOT_FOUND']);
    const other = await post('/tokenize', { model: 'tiny-ref-free', items: [] });
    expect(other.body).toEqual({ model: { name: 'tiny-ref-free', fingerprint: expect.stringMatching(/^sha256:/) }, results: [] });
  });

  it('needs an API key when the service has keys, like the scoring routes', async () => {
    const keyed = await buildTestApp({ MODELS_DIR: modelsDirWith('tiny-logprobs'), API_KEYS: 'k-tokenize-test-1234567890' }, { loaded: true });
    try {
      const send = (headers: Record<string, string>) =>
        keyed.app.inject({ method: 'POST', url: '/tokenize', payload: { items: [items[1]] }, headers });
      expect((await send({})).statusCode).toBe(401);
      expect((await send({ authorization: 'Bearer wrong-key-000000000000' })).statusCode).toBe(401);
      expect((await send({ authorization: 'Bearer k-tokenize-test-1234567890' })).statusCode).toBe(200);
    } finally {
      await keyed.close();
    }
  });
});
