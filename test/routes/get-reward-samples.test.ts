/**
 * /get_reward gives every sample a reward: unscorable samples take the fallback with their error
 * code, over-long ones follow the truncation rule, and the other samples get exactly the numbers
 * /v1/score gives them alone. The test bundle's tokenizer is character-level, so how many steps
 * or prompt characters fit in max_sequence_length is counted here from the text, independently
 * of the service.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLES_DIR, buildTestApp, modelsDirWith, type TestApp } from '../harness/app.js';

const MANIFEST = JSON.parse(readFileSync(join(BUNDLES_DIR, 'tiny-logprobs', 'prm.json'), 'utf8')) as {
  max_sequence_length: number;
  prompt_template: string;
};
const MAX = MANIFEST.max_sequence_length;

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ MODELS_DIR: modelsDirWith('tiny-logprobs'), DEFAULT_MODEL: 'tiny-logprobs', MAX_ITEMS_PER_REQUEST: '2' });
  await t.scoring.whenLoaded();
});
afterAll(() => t.close());

async function post(url: string, payload: object) {
  const res = await t.app.inject({ method: 'POST', url, payload });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

async function scoreAlone(prompt: string, steps: string[], partial = false) {
  const body = await post('/v1/score', { items: [{ prompt, steps }], options: { aggregate: 'min', partial } });
  return body.results[0] as { score: number; steps: { reward: number }[] };
}

/** Character tokenizer: the rendered prompt, each step + separator, and EOS on a finished trace. */
const promptTokens = (prompt: string) => MANIFEST.prompt_template.replace('{prompt}', prompt).length;

const PROMPT = '12+7';
const GOOD = ['12+7=19', 'Answer: 19'];
const LONG_STEPS = Array.from({ length: 60 }, (_, i) => `${i}+1=${i + 1}`); // far beyond MAX tokens

describe('POST /get_reward, sample by sample', () => {
  it('an empty response gets the fallback and its code; the others keep their own numbers', async () => {
    const body = await post('/get_reward?fallback_reward=-3', {
      query: [`${PROMPT}\n${GOOD.join('\n')}`, `${PROMPT}\n`, `${PROMPT}\n12+7=20\nAnswer: 20`],
      prompts: [PROMPT, PROMPT, PROMPT],
    });
    const [a, c] = [await scoreAlone(PROMPT, GOOD), await scoreAlone(PROMPT, ['12+7=20', 'Answer: 20'])];
    expect(body.rewards).toEqual([a.score, -3, c.score]);
    expect(body.errors[0]).toBeNull();
    expect(body.errors[1].code).toMatch(/^EMPTY_STEPS?$/);
    expect(body.errors[2]).toBeNull();
    expect(body.step_rewards[1]).toEqual([]);
    expect(body.extra_logs.scored).toEqual([1, 0, 1]);
  });

  it('truncate=right scores the steps that fit, as a trace that goes on', async () => {
    let used = promptTokens(PROMPT);
    let fit = 0;
    while (fit < LONG_STEPS.length && used + LONG_STEPS[fit]!.length + 1 <= MAX) used += LONG_STEPS[fit++]!.length + 1;
    const want = await scoreAlone(PROMPT, LONG_STEPS.slice(0, fit), true);
    const body = await post('/get_reward?truncate=right', { query: [`${PROMPT}\n${LONG_STEPS.join('\n')}`], prompts: [PROMPT] });
    expect(body.step_rewards[0]).toEqual(want.steps.map((s) => s.reward));
    expect(body.rewards).toEqual([want.score]);
    expect(body.extra_logs.truncated).toEqual([1]);
    expect(body.errors[0].code).toBe('SEQUENCE_TOO_LONG');
  });

  it('truncate=left keeps the end of the prompt that fits', async () => {
    const steps = ['1+1=2', 'Answer: 2'];
    const response = steps.join('\n').length + 1; // + EOS
    const longPrompt = '9'.repeat(MAX);
    const keep = MAX - response - promptTokens('');
    const want = await scoreAlone(longPrompt.slice(-keep), steps);
    const body = await post('/get_reward', { query: [`${longPrompt}\n${steps.join('\n')}`], prompts: [longPrompt], truncate: 'left' });
    expect(body.rewards).toEqual([want.score]);
    expect(body.extra_logs.truncated).toEqual([1]);
  });

  it('truncate=error gives the over-long sample the fallback (GET_REWARD_FALLBACK by default)', async () => {
    const body = await post('/get_reward', { query: [`${PROMPT}\n${LONG_STEPS.join('\n')}`, `${PROMPT}\n${GOOD.join('\n')}`], prompts: [PROMPT, PROMPT], truncate: 'error' });
    expect(body.rewards[0]).toBe(-1); // GET_REWARD_FALLBACK's default
    expect(body.errors[0].code).toBe('SEQUENCE_TOO_LONG');
    expect(body.rewards[1]).toBe((await scoreAlone(PROMPT, GOOD)).score);
  });

  it('a bad sample inside a batch larger than one scoring request still costs only itself', async () => {
    const good = Array.from({ length: 5 }, (_, i) => `${PROMPT}\n12+7=${19 + i}\nAnswer: ${19 + i}`);
    const query = [...good.slice(0, 3), `${PROMPT}\n`, ...good.slice(3)];
    const body = await post('/get_reward', { query, prompts: query.map(() => PROMPT) });
    expect(body.extra_logs.scored).toEqual([1, 1, 1, 0, 1, 1]);
    const alone = await Promise.all(good.map(async (q) => (await post('/get_reward', { query: [q], prompts: [PROMPT] })).rewards[0]));
    expect(body.rewards.filter((_: number, i: number) => i !== 3)).toEqual(alone);
  });

  it.each([
    ['a query not starting with its prompt', { query: [`${PROMPT}\n12+7=19`, 'p2\ny'], prompts: [PROMPT, 'zz'] }, 'body.query[1] does not start with body.prompts[1]'],
    ['no prompts and no line break', { query: [`${PROMPT}\n12+7=19`, 'just one line'] }, 'body.query[1] has no line break, so no response after its first line (the prompt); send prompts'],
  ])('%s: that sample gets the fallback and INVALID_REQUEST, the other is scored', async (_name, body, message) => {
    const r = await post('/get_reward?fallback_reward=-7.5', body);
    expect(r.rewards).toEqual([(await scoreAlone(PROMPT, ['12+7=19'])).score, -7.5]);
    expect(r.errors).toEqual([null, { code: 'INVALID_REQUEST', message }]);
    expect(r.extra_logs.scored).toEqual([1, 0]);
  });

  it('a fallback_reward that is not a number → 400', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/get_reward?fallback_reward=low', payload: { query: [] } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('INVALID_REQUEST');
  });

  it('a fallback_reward beyond a double (1e999) → 400, not rewards that JSON writes as null', async () => {
    for (const query of [['just one line'], []]) {
      const res = await t.app.inject({ method: 'POST', url: '/get_reward?fallback_reward=9020e62743', payload: { query } });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error).toEqual({ code: 'INVALID_REQUEST', message: 'querystring.fallback_reward must be a finite number (got 9020e62743)' });
    }
  });
});
