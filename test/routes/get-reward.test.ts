/**
 * POST /get_reward end to end: OpenRLHF's request and response shapes, and agreement with
 * /v1/score on the same trace (it is the same scoring call behind another protocol).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, modelsDirWith, type TestApp } from '../harness/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ MODELS_DIR: modelsDirWith('tiny-logprobs', 'tiny-ref-free'), DEFAULT_MODEL: 'tiny-logprobs' });
  await t.scoring.whenLoaded();
});
afterAll(() => t.close());

const prompt = '12+7*3';
const steps = ['7*3=21', '12+21=33'];

async function post(url: string, payload: object) {
  const res = await t.app.inject({ method: 'POST', url, payload });
  expect(res.statusCode, res.body).toBe(200);
  return res;
}

async function viaScore(options: object = {}, model?: string) {
  const res = await post('/v1/score', { model, items: [{ prompt, steps }], options });
  return res.json().results[0] as { score: number; outcome_reward: number; steps: { reward: number }[] };
}

describe('POST /get_reward', () => {
  it('answers empty lists with empty lists', async () => {
    const res = await post('/get_reward', { query: [], prompts: [], labels: [] });
    expect(res.json()).toEqual({ rewards: [], scores: [], extra_logs: { outcome_reward: [], num_steps: [], scored: [], truncated: [] }, step_rewards: [], errors: [] });
  });

  it('returns the /v1/score numbers in OpenRLHF shape, with prompts', async () => {
    const expected = await viaScore();
    const res = await post('/get_reward', { query: [`${prompt}\n${steps.join('\n')}`, `${prompt}${steps[0]}`], prompts: [prompt, prompt], labels: ['33', '33'] });
    const body = res.json();
    expect(body.rewards[0]).toBe(expected.score);
    expect(body.scores).toEqual(body.rewards);
    expect(body.step_rewards[0]).toEqual(expected.steps.map((s) => s.reward));
    expect(body.step_rewards[1]).toHaveLength(1);
    expect(body.extra_logs).toEqual({ outcome_reward: [expected.outcome_reward, expect.any(Number)], num_steps: [2, 1], scored: [1, 1], truncated: [0, 0] });
    expect(body.errors).toEqual([null, null]);
    expect(res.headers['x-total-time']).toMatch(/^\d+\.\d{3}$/);
  });

  it('strips the EOS and pad texts a sampled response ends with, so the end is not scored twice', async () => {
    const expected = await viaScore();
    const query = (tail: string) => `${prompt}\n${steps.join('\n')}${tail}`;
    const body = (await post('/get_reward', { query: [query('<eos>'), query('<eos><pad><pad>'), query('')], prompts: [prompt, prompt, prompt] })).json();
    for (const r of body.step_rewards) expect(r).toEqual(expected.steps.map((s) => s.reward));
    expect(body.rewards).toEqual([expected.score, expected.score, expected.score]);
    // Only at the end: the same text inside a step stays and is scored.
    const inside = (await post('/get_reward', { query: [`${prompt}\n${steps[0]}<eos>\n${steps[1]}`], prompts: [prompt] })).json();
    expect(inside.step_rewards[0]).not.toEqual(expected.steps.map((s) => s.reward));
  });

  it('takes the first line as the prompt when prompts are absent', async () => {
    const expected = await viaScore();
    const body = (await post('/get_reward', { query: [`${prompt}\n${steps.join('\n')}`] })).json();
    expect(body.rewards).toEqual([expected.score]);
    expect(body.step_rewards).toEqual([expected.steps.map((s) => s.reward)]);
  });

  it('keeps blank lines inside the step before them instead of failing the batch', async () => {
    // "a\n\nb" is scored as the steps ["a\n", "b"]: the same tokens as the text, no empty step.
    const expected = (await post('/v1/score', { items: [{ prompt, steps: [`${steps[0]}\n`, steps[1]] }] })).json().results[0];
    const body = (await post('/get_reward', { query: [`${prompt}\n${steps[0]}\n\n${steps[1]}\n`], prompts: [prompt] })).json();
    expect(body.step_rewards).toEqual([expected.steps.map((s: { reward: number }) => s.reward)]);
    expect(body.rewards).toEqual([expected.score]);
  });

  it('reads aggregate from the query string, and from the body first', async () => {
    const sum = await viaScore({ aggregate: 'sum' });
    const last = await viaScore({ aggregate: 'last' });
    const query = [`${prompt}\n${steps.join('\n')}`];
    expect((await post('/get_reward?aggregate=sum', { query })).json().rewards).toEqual([sum.score]);
    expect((await post('/get_reward?aggregate=sum', { query, aggregate: 'last' })).json().rewards).toEqual([last.score]);
  });

  it('passes model and beta through', async () => {
    const expected = await viaScore({ beta: 0.2 }, 'tiny-ref-free');
    const body = (await post('/get_reward?model=tiny-ref-free', { query: [`${prompt}\n${steps.join('\n')}`], beta: 0.2 })).json();
    expect(body.rewards).toEqual([expected.score]);
  });
});
