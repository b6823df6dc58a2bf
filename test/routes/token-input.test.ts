/**
 * Token id items in POST /v1/score, against the tiny test bundles (character-level tokenizer, so
 * the expected ids follow from the bundle's vocab): the same rewards as the text they spell, the
 * checks of ids and step ends, token ids and offsets beside token rewards, and the caches shared
 * between the two forms.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, modelsDirWith, type TestApp } from '../harness/app.js';
import { charBundle } from '../helpers/char-vocab.js';

interface Result {
  id: string; score: number; outcome_reward: number; cached_tokens: number;
  steps: { reward: number; q: number; tokens: number }[];
  token_rewards?: number[][]; token_ids?: number[][]; token_offsets?: [number, number][][] | null;
}

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ MODELS_DIR: modelsDirWith('tiny-logprobs', 'tiny-ref-free'), DEFAULT_MODEL: 'tiny-logprobs', MAX_TOKENS_PER_ITEM: '120' }, { loaded: true });
});
afterAll(() => t.close());

const chars = charBundle('tiny-logprobs');

async function post(url: string, payload: object) {
  const res = await t.app.inject({ method: 'POST', url, payload });
  return { status: res.statusCode, body: res.json() };
}

async function scoreOk(payload: object): Promise<Result[]> {
  const r = await post('/v1/score', payload);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.results;
}

async function refused(item: object): Promise<{ status: number; code: string; message: string }> {
  const r = await post('/v1/score', { items: [item] });
  return { status: r.status, code: r.body.error?.code, message: r.body.error?.message };
}

const trace = { prompt: '12+7*3', steps: ['7*3=21', '12+21=33', 'The answer is 33'] };

describe('token id items', () => {
  it('score the same as the text they spell, with ids from the vocab and from /tokenize', async () => {
    const tokenized = (await post('/tokenize', { items: [trace] })).body.results[0];
    const fromTokenize = { prompt_ids: tokenized.prompt_ids, response_ids: tokenized.response_ids, step_ends: tokenized.step_ends };
    const fromVocab = chars.idItem(trace.prompt, trace.steps);
    expect(fromTokenize).toEqual(fromVocab);
    for (const model of ['tiny-logprobs', 'tiny-ref-free']) {
      const [text, ids] = await scoreOk({ model, items: [trace, { id: 'ids', ...fromVocab }], options: { token_rewards: true, aggregate: 'mean' } });
      expect(ids!.id).toBe('ids');
      expect(ids!.steps).toEqual(text!.steps);
      expect(ids!.score).toBe(text!.score);
      expect(ids!.token_rewards).toEqual(text!.token_rewards);
      expect(ids!.token_ids).toEqual(text!.token_ids);
    }
  });

  it('are scored exactly as given: no template, separator or EOS added', async () => {
    const prompt_ids = chars.idOf('7*3');
    const response_ids = chars.idOf('=21 and so on');
    const [r] = await scoreOk({ items: [{ prompt_ids, response_ids, step_ends: [3, 13] }], options: { token_rewards: true } });
    expect(r!.token_ids).toEqual([response_ids.slice(0, 3), response_ids.slice(3)]);
    expect(r!.steps.map((s) => s.tokens)).toEqual([3, 10]);
    expect(r!.token_offsets).toBeNull();
    // Partial keeps the ids too (it only keeps the trace's KV for an extension).
    const [p] = await scoreOk({ items: [{ prompt_ids, response_ids, step_ends: [13] }], options: { token_rewards: true, partial: true } });
    expect(p!.token_ids).toEqual([response_ids]);
  });

  it('refuse step ends that do not cut the response into non-empty steps', async () => {
    const base = { prompt_ids: chars.idOf('1+1'), response_ids: chars.idOf('1+1=2') };
    const cases: [number[], string, RegExp][] = [
      [[], 'EMPTY_STEPS', /step_ends is empty/],
      [[0, 5], 'EMPTY_STEP', /step 1 of 2 has no tokens/],
      [[2, 2, 5], 'EMPTY_STEP', /step 2 of 3 has no tokens: step_ends\[1\] = 2 equals step_ends\[0\]/],
      [[3, 2, 5], 'INVALID_REQUEST', /strictly increasing/],
      [[2, 6], 'INVALID_REQUEST', /step_ends\[1\] = 6 is past the end of response_ids \(5 ids\)/],
      [[2, 4], 'INVALID_REQUEST', /last step end is 4 but response_ids has 5 ids/],
    ];
    for (const [step_ends, code, message] of cases) {
      const r = await refused({ ...base, step_ends });
      expect([r.status, r.code], JSON.stringify(step_ends)).toEqual([400, code]);
      expect(r.message).toMatch(message);
      expect(r.message).toMatch(/^items\[0\] \(id "0"\): /);
    }
    expect((await refused({ ...base, step_ends: [2.5, 5] })).code).toBe('INVALID_REQUEST');
    expect(await refused({ prompt_ids: [], response_ids: base.response_ids, step_ends: [5] })).toMatchObject({ status: 400, code: 'EMPTY_PROMPT' });
  });

  it('refuse ids outside the model\'s vocabulary with TOKEN_ID_OUT_OF_RANGE', async () => {
    const ok = chars.idItem('1+1', ['1+1=2']);
    for (const [field, id] of [['response_ids', chars.vocabSize], ['prompt_ids', -1], ['response_ids', 151_643]] as const) {
      const item = { ...ok, [field]: [...ok[field].slice(0, 2), id, ...ok[field].slice(3)] };
      const r = await refused(item);
      expect([r.status, r.code]).toEqual([400, 'TOKEN_ID_OUT_OF_RANGE']);
      expect(r.message).toContain(`${field}[2] = ${id} is not a token id of this model: ids must be in [0, ${chars.vocabSize})`);
    }
    expect((await refused({ ...ok, response_ids: [1.5, ...ok.response_ids.slice(1)] })).code).toBe('INVALID_REQUEST');
  });

  it('refuse an item that mixes the two forms or lacks a field of its form', async () => {
    const ids = chars.idItem('1+1', ['1+1=2']);
    const mixed = await refused({ ...ids, prompt: '1+1' });
    expect([mixed.status, mixed.code]).toEqual([400, 'INVALID_REQUEST']);
    expect(mixed.message).toMatch(/mixes text fields \(prompt\) with token id fields \(prompt_ids, response_ids, step_ends\)/);
    expect((await refused({ prompt: '1+1', steps: ['2'], step_ends: [1] })).code).toBe('INVALID_REQUEST');
    const partial = await refused({ prompt_ids: ids.prompt_ids, response_ids: ids.response_ids });
    expect([partial.status, partial.code]).toEqual([400, 'INVALID_REQUEST']);
    expect(partial.message).toMatch(/without step_ends/);
    expect((await refused({ steps: ['2'] })).message).toBe('body.items[0].prompt is required');
    expect((await refused({ id: 'x' })).message).toMatch(/needs 'prompt' with 'steps' or 'response', or 'prompt_ids', 'response_ids' and 'step_ends'/);
  });

  it('obey the token limits of text items: MAX_TOKENS_PER_ITEM and max_sequence_length', async () => {
    const prompt_ids = chars.idOf('1+1');
    const over = (n: number) => ({ prompt_ids, response_ids: Array(n).fill(chars.vocab['1']), step_ends: [n] });
    expect(await refused(over(118))).toMatchObject({ status: 413, code: 'TOO_MANY_TOKENS' });
    expect((await scoreOk({ items: [over(117)] }))[0]!.steps[0]!.tokens).toBe(117);
    const long = await buildTestApp({ MODELS_DIR: modelsDirWith('tiny-logprobs') }, { loaded: true });
    try {
      const res = await long.app.inject({ method: 'POST', url: '/v1/score', payload: { items: [over(254)] } });
      expect([res.statusCode, res.json().error.code]).toEqual([413, 'SEQUENCE_TOO_LONG']);
      expect(res.json().error.message).toMatch(/257 tokens; this model takes at most 256/);
    } finally {
      await long.close();
    }
  });

  it('share the caches: a repeated id item, and an id item after its text, report cached tokens', async () => {
    const text = { prompt: '9-4', steps: ['9-4=5', 'Answer: 5'] };
    const ids = chars.idItem(text.prompt, text.steps);
    const [first] = await scoreOk({ items: [text] });
    expect(first!.cached_tokens).toBe(0);
    const [again] = await scoreOk({ items: [ids] });
    expect(again!.cached_tokens).toBe(ids.response_ids.length);
    expect(again!.steps).toEqual(first!.steps);
    const fresh = chars.idItem('8-3', ['8-3=5', 'Answer: 5']);
    const [once] = await scoreOk({ items: [fresh] });
    const [twice] = await scoreOk({ items: [fresh] });
    expect([once!.cached_tokens, twice!.cached_tokens]).toEqual([0, fresh.response_ids.length]);
    // The same ids cut at other step ends are another trace: its second step is not served from the first's.
    const recut = { ...fresh, step_ends: [3, fresh.response_ids.length] };
    const [other] = await scoreOk({ items: [recut] });
    expect(other!.cached_tokens).toBe(0);
    expect(other!.outcome_reward).toBeCloseTo(once!.outcome_reward, 5);
  });
});

describe('token ids and offsets beside token rewards', () => {
  it('give each text token its id and its characters in the rendered response', async () => {
    const items = [trace, { prompt: '3+4', response: '3+4=7\nAnswer: 7\n' }];
    const results = await scoreOk({ items, options: { token_rewards: true } });
    const rendered = [trace.steps.join('\n'), '3+4=7\nAnswer: 7'];
    results.forEach((r, i) => {
      const response = rendered[i]!;
      expect(r.token_ids!.map((s) => s.length)).toEqual(r.token_rewards!.map((s) => s.length));
      expect(r.token_offsets!.map((s) => s.length)).toEqual(r.token_rewards!.map((s) => s.length));
      const ids = r.token_ids!.flat();
      const spans = r.token_offsets!.flat();
      expect(ids.at(-1)).toBe(chars.eosId);
      expect(spans.at(-1)).toEqual([response.length, response.length]);
      expect(ids.slice(0, -1)).toEqual(chars.idOf(response));
      spans.slice(0, -1).forEach(([start, end], k) => expect(chars.vocab[response.slice(start, end)]).toBe(ids[k]));
    });
  });

  it('are left out without token_rewards', async () => {
    const [r] = await scoreOk({ items: [trace, chars.idItem(trace.prompt, trace.steps)] });
    expect(r).not.toHaveProperty('token_ids');
    expect(r).not.toHaveProperty('token_offsets');
  });
});
