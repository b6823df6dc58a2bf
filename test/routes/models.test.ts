/** GET /v1/models against the real service with the tiny test bundles. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLES_DIR, buildTestApp, modelsDirWith, type TestApp } from '../harness/app.js';

const fingerprintOf = (name: string) =>
  (JSON.parse(readFileSync(`${BUNDLES_DIR}${name}/prm.json`, 'utf8')) as { fingerprint: string }).fingerprint;

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ MODELS_DIR: modelsDirWith('tiny-logits', 'tiny-ref-free'), DEFAULT_MODEL: 'tiny-ref-free' });
  await t.scoring.whenLoaded();
});
afterAll(() => t.close());

describe('GET /v1/models', () => {
  it('lists every loaded model with what a client needs to know', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/models' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.default_model).toBe('tiny-ref-free');
    const byName = Object.fromEntries(body.models.map((m: { name: string }) => [m.name, m]));
    expect(Object.keys(byName).sort()).toEqual(['tiny-logits', 'tiny-ref-free']);
    expect(byName['tiny-logits']).toMatchObject({
      name: 'tiny-logits',
      fingerprint: fingerprintOf('tiny-logits'),
      beta: 0.05,
      reference_free: false,
      step_separator: '\n',
      max_sequence_length: 256,
      graph: 'logits',
      execution_provider: 'cpu',
    });
    expect(byName['tiny-ref-free']).toMatchObject({ reference_free: true, graph: 'logprobs', fingerprint: fingerprintOf('tiny-ref-free') });
    expect(byName['tiny-logits'].provenance).toBeTypeOf('object');
  });
});
