/**
 * POST /v1/score end to end against the tiny test bundles. The numbers themselves are checked by
 * the core's golden tests; here: shapes, ids, headers, model choice and the plumbing of every
 * option (β, aggregate, token rewards, deadline) from the request to the result.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, modelsDirWith, type TestApp } from '../harness/app.js';

interface Step { reward: number; q: number; value: number; tokens: number }
interface Result { id: string; score: number; outcome_reward: number; cached_tokens: number; steps: Step[]; token_rewards?: number[][] }
interface ScoreBody { model: { name: string; fingerprint: string; beta: number; reference_free: boolean }; results: Result[]; usage: Record<string, number> }

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ MODELS_DIR: modelsDirWith('tiny-logprobs', 'tiny-ref-free'), DEFAULT_MODEL: 'tiny-logprobs' });
  await t.scoring.whenLoaded();
});
afterAll(() => t.close());

const trace = { prompt: '12+7*3', steps: ['7*3=21', '12+21=33', 'The answer is 33'] };

async function score(body: unknown) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/score', payload: body as object });
  return { status: res.statusCode, body: res.json() as ScoreBody, headers: res.headers, error: res.json().error };
}

async function ok(body: unknown): Promise<ScoreBody> {
  const r = await score(body);
  expect(r.status, JSON.stringify(r.error)).toBe(200);
  return r.body;
}

describe('POST /v1/score', () => {
  it('returns one result per item in request order, with ids, steps and usage', async () => {
    const r = await score({ items: [{ id: 'a', ...trace }, { prompt: '2+2', steps: ['2+2=4'] }, { id: 'c', ...trace }] });
    expect(r.status).toBe(200);
    const { model, results, usage } = r.body;
    expect(model).toEqual({ name: 'tiny-logprobs', fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), beta: 0.05, reference_free: false });
    expect(results.map((x) => x.id)).toEqual(['a', '1', 'c']);
    expect(results.map((x) => x.steps.length)).toEqual([3, 1, 3]);
    for (const res of results) {
      expect(Number.isInteger(res.cached_tokens)).toBe(true);
      expect(res.token_rewards).toBeUndefined();
      for (const s of res.steps) {
        expect(Number.isFinite(s.reward) && Number.isFinite(s.q)).toBe(true);
        expect(s.value).toBeCloseTo(1 / (1 + Math.exp(-s.q)), 12);
        expect(s.tokens).toBeGreaterThan(0);
      }
      expect(res.outcome_reward).toBe(res.steps.at(-1)!.q);
    }
    // The first and third items are the same trace: same numbers.
    expect(results[2]!.steps).toEqual(results[0]!.steps);
    expect(usage.items).toBe(3);
    const stepTokens = results.reduce((n, x) => n + x.steps.reduce((m, s) => m + s.tokens, 0), 0);
    expect(usage.response_tokens).toBe(stepTokens);
    expect(usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('sends the stage timings as x-*-time headers in milliseconds', async () => {
    const r = await score({ items: [trace] });
    for (const h of ['x-tokenize-time', 'x-queue-time', 'x-inference-time', 'x-total-time']) {
      expect(r.headers[h], h).toMatch(/^\d+\.\d{3}$/);
    }
  });

  it('aggregates step rewards as asked: sum = outcome reward, min, last, mean', async () => {
    const [min, sum, last, mean] = await Promise.all(
      (['min', 'sum', 'last', 'mean'] as const).map((aggregate) => ok({ items: [trace], options: { aggregate } })),
    );
    const rewards = min!.results[0]!.steps.map((s) => s.reward);
    expect(min!.results[0]!.score).toBe(Math.min(...rewards));
    expect(sum!.results[0]!.score).toBeCloseTo(sum!.results[0]!.outcome_reward, 12);
    expect(last!.results[0]!.score).toBe(rewards.at(-1));
    expect(mean!.results[0]!.score).toBeCloseTo(rewards.reduce((a, b) => a + b, 0) / rewards.length, 12);
    // The default is min.
    const dflt = await ok({ items: [trace] });
    expect(dflt.results[0]!.score).toBe(min!.results[0]!.score);
  });

  it('scales q and rewards exactly with a β override and reports the β used', async () => {
    const base = await ok({ items: [trace] });
    const doubled = await ok({ items: [trace], options: { beta: 0.1 } });
    expect(doubled.model.beta).toBe(0.1);
    // 0.1 is exactly 2 × 0.05 in binary, so the scaling is exact, not approximate.
    expect(doubled.results[0]!.steps.map((s) => s.q)).toEqual(base.results[0]!.steps.map((s) => 2 * s.q));
    expect(doubled.results[0]!.outcome_reward).toBe(2 * base.results[0]!.outcome_reward);
  });

  it('returns token rewards grouped by step when asked', async () => {
    const body = await ok({ items: [trace], options: { token_rewards: true } });
    const res = body.results[0]!;
    expect(res.token_rewards!.map((xs) => xs.length)).toEqual(res.steps.map((s) => s.tokens));
    res.token_rewards!.forEach((xs, k) => expect(xs.reduce((a, b) => a + b, 0)).toBeCloseTo(res.steps[k]!.reward, 6));
  });

  it('splits a response by the step separator exactly as the same steps sent as a list', async () => {
    const asList = await ok({ items: [trace] });
    const asText = await ok({ items: [{ prompt: trace.prompt, response: trace.steps.join('\n') }] });
    expect(asText.results[0]!.steps).toEqual(asList.results[0]!.steps);
  });

  it('scores with the model named in the request', async () => {
    const body = await ok({ model: 'tiny-ref-free', items: [trace] });
    expect(body.model.name).toBe('tiny-ref-free');
    expect(body.model.reference_free).toBe(true);
  });

  it('passes partial through: only the last step changes (separator instead of EOS)', async () => {
    const whole = await ok({ items: [trace] });
    const partial = await ok({ items: [trace], options: { partial: true } });
    expect(partial.results[0]!.steps.slice(0, 2)).toEqual(whole.results[0]!.steps.slice(0, 2));
    expect(partial.results[0]!.steps[2]!.q).not.toBe(whole.results[0]!.steps[2]!.q);
  });

  it('accepts an empty item list and returns no results', async () => {
    const body = await ok({ items: [] });
    expect(body.results).toEqual([]);
    expect(body.model.name).toBe('tiny-logprobs');
    expect(body.usage.items).toBe(0);
  });

  it('an unknown model → 404 MODEL_NOT_FOUND', async () => {
    const r = await score({ model: 'nope', items: [trace] });
    expect(r.status).toBe(404);
    expect(r.error.code).toBe('MODEL_NOT_FOUND');
  });

  it('a trace longer than the model allows → 413 SEQUENCE_TOO_LONG naming the item', async () => {
    const r = await score({ items: [trace, { id: 'long', prompt: '1+'.repeat(200), steps: ['2'] }] });
    expect(r.status).toBe(413);
    expect(r.error.code).toBe('SEQUENCE_TOO_LONG');
    expect(r.error.message).toContain('items[1]');
  });

  it('a request that cannot finish within options.timeout_ms → 504 DEADLINE_EXCEEDED', async () => {
    // 256 traces of ~200 tokens cannot be scored within 1 ms, whatever the machine.
    const long = { prompt: '9*9', steps: Array.from({ length: 8 }, (_, k) => `step ${k}: 9*9=81 so far`) };
    const r = await score({ items: Array.from({ length: 256 }, () => long), options: { timeout_ms: 1 } });
    expect(r.status).toBe(504);
    expect(r.error).toEqual({ code: 'DEADLINE_EXCEEDED', message: 'request did not finish within its 1 ms deadline' });
  });
});
