/**
 * Consistency of the scoring service on the tiny transformer bundles (real attention, so padding
 * and batching mistakes would show): a batch equals its items scored one by one, a step prefix
 * equals the start of the full trace, and a response string equals its explicit steps.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadingScoringService } from '../../src/core/scoring-service.js';
import { testScoringService } from '../harness/app.js';
import type { ItemResult, TextItemInput } from '../../src/core/types.js';

const BUNDLES = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bundles');
const TOL = 1e-5;
const MODELS = ['tiny-logprobs', 'tiny-logits', 'tiny-ref-free'];

const ITEMS: TextItemInput[] = [
  { id: 'long', prompt: '12+7', steps: ['12+7=19', 'check: 19-7=12', 'so it is 19', 'Answer: 19'] },
  { id: 'short', prompt: '3', steps: ['Answer: 3'] },
  { id: 'mid', prompt: '5*6', steps: ['5*6=30', 'Answer: 30'] },
];

function expectSameSteps(a: ItemResult, b: ItemResult, count: number, what: string): void {
  for (let k = 0; k < count; k++) {
    expect(a.steps[k].tokens, `${what} step ${k + 1} tokens`).toBe(b.steps[k].tokens);
    expect(Math.abs(a.steps[k].q - b.steps[k].q), `${what} step ${k + 1} q`).toBeLessThan(TOL);
    expect(Math.abs(a.steps[k].reward - b.steps[k].reward), `${what} step ${k + 1} reward`).toBeLessThan(TOL);
  }
}

let service: LoadingScoringService;
beforeAll(async () => {
  service = testScoringService({ MODELS_DIR: BUNDLES });
  await service.whenLoaded();
  expect(service.readiness().ready).toBe(true);
});
afterAll(async () => {
  await service.close();
});

describe.each(MODELS)('%s', (model) => {
  it('a batch of items of different lengths equals the items scored one by one', async () => {
    const batched = await service.score(model, ITEMS, { token_rewards: true });
    for (let i = 0; i < ITEMS.length; i++) {
      const [alone] = (await service.score(model, [ITEMS[i]], { token_rewards: true })).results;
      const b = batched.results[i];
      expect(b.id).toBe(alone.id);
      expectSameSteps(b, alone, alone.steps.length, ITEMS[i].id!);
      expect(Math.abs(b.score - alone.score)).toBeLessThan(TOL);
      b.token_rewards!.flat().forEach((t, j) => expect(Math.abs(t - alone.token_rewards!.flat()[j])).toBeLessThan(TOL));
    }
  });

  it('steps 1..k as a complete trace equal the full trace up to step k − 1 (step k ends with EOS instead of the separator)', async () => {
    const full = (await service.score(model, [ITEMS[0]], {})).results[0];
    for (let k = 1; k < ITEMS[0].steps!.length; k++) {
      const prefix = (await service.score(model, [{ prompt: ITEMS[0].prompt, steps: ITEMS[0].steps!.slice(0, k) }], {})).results[0];
      expectSameSteps(prefix, full, k - 1, `prefix ${k}`);
      // The bundle appends EOS, so the prefix's last step ends in another token than step k of
      // the full trace (which ends in the separator) and its reward differs.
      expect(Math.abs(prefix.steps[k - 1].q - full.steps[k - 1].q)).toBeGreaterThan(TOL);
    }
  });

  it('steps 1..k as a partial trace equal the first k steps of the full trace', async () => {
    const full = (await service.score(model, [ITEMS[0]], {})).results[0];
    for (let k = 1; k < ITEMS[0].steps!.length; k++) {
      const prefix = (await service.score(model, [{ prompt: ITEMS[0].prompt, steps: ITEMS[0].steps!.slice(0, k) }], { partial: true })).results[0];
      expectSameSteps(prefix, full, k, `partial prefix ${k}`);
    }
  });

  it('a response split at the separator equals the same steps sent explicitly', async () => {
    const explicit = (await service.score(model, [ITEMS[0]], {})).results[0];
    for (const response of [ITEMS[0].steps!.join('\n'), ITEMS[0].steps!.join('\n') + '\n']) {
      const split = (await service.score(model, [{ prompt: ITEMS[0].prompt, response }], {})).results[0];
      expectSameSteps(split, explicit, explicit.steps.length, JSON.stringify(response));
      expect(split.score).toBe(explicit.score);
    }
  });
});
