/**
 * /health/ready without a key names a broken bundle and its reason but not the server's paths; the
 * same answer to a valid key keeps them.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLoadedApp, type TestApp as HardenedApp } from '../harness/app.js';
import { BUNDLES_DIR, modelsDirWith } from '../harness/server-process.js';

let h: HardenedApp;
let dir = '';
beforeAll(async () => {
  dir = modelsDirWith('tiny-logprobs');
  // A copy whose tokenizer file is broken: its load error names the file by its full path.
  cpSync(join(BUNDLES_DIR, 'tiny-logprobs'), join(dir, 'zz-broken'), { recursive: true });
  const man = JSON.parse(readFileSync(join(dir, 'zz-broken', 'prm.json'), 'utf8'));
  delete man.fingerprint;
  writeFileSync(join(dir, 'zz-broken', 'prm.json'), JSON.stringify(man));
  writeFileSync(join(dir, 'zz-broken', 'tokenizer.json'), '{ not json');
  h = await buildLoadedApp({ MODELS_DIR: dir, DEFAULT_MODEL: 'tiny-logprobs', API_KEYS: 'k1' });
});
afterAll(() => h?.close());

describe('/health/ready', () => {
  it('tells a client without a key what is wrong, not where', async () => {
    const anonymous = await h.app.inject({ method: 'GET', url: '/health/ready' });
    expect(anonymous.statusCode).toBe(200);
    expect(anonymous.json().models['zz-broken']).toMatch(/^failed: tokenizer file …\/tokenizer\.json is not valid JSON/);
    expect(anonymous.body).not.toContain(dir);
    const keyed = await h.app.inject({ method: 'GET', url: '/health/ready', headers: { authorization: 'Bearer k1' } });
    expect(keyed.json().models['zz-broken']).toContain(join(dir, 'zz-broken', 'tokenizer.json'));
  });
});
