/**
 * Broken bundles next to a good one: each broken bundle is reported (readiness and an error log)
 * with a reason that says what is wrong, the process does not crash, and the good bundle serves.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadingScoringService } from '../../src/core/scoring-service.js';
import { testScoringService } from '../harness/app.js';
import type { Logger } from '../../src/logger.js';
import { BUNDLES_DIR } from '../fixtures/analytic/closed-form.js';

const tmpRoots: string[] = [];
function tmpRoot(): string {
  const d = mkdtempSync(join(tmpdir(), 'prm-bundles-'));
  tmpRoots.push(d);
  return d;
}

function copyBundle(root: string, from: string, to: string): string {
  const dir = join(root, to);
  cpSync(join(BUNDLES_DIR, from), dir, { recursive: true });
  return dir;
}

function editManifest(dir: string, edit: (m: Record<string, any>) => void): void {
  const m = JSON.parse(readFileSync(join(dir, 'prm.json'), 'utf8'));
  edit(m);
  writeFileSync(join(dir, 'prm.json'), JSON.stringify(m));
}

function recordingLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  return { info: () => {}, warn: () => {}, error: (_o, msg) => errors.push(msg), errors };
}

async function start(root: string, extra: { defaultModel?: string } = {}) {
  const logger = recordingLogger();
  const env: Record<string, string> = extra.defaultModel === undefined ? {} : { DEFAULT_MODEL: extra.defaultModel };
  const service = testScoringService({ MODELS_DIR: root, ...env }, { logger });
  services.push(service);
  await service.whenLoaded();
  return { service, logger };
}

const services: LoadingScoringService[] = [];
afterAll(async () => {
  await Promise.all(services.map((s) => s.close()));
  for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
});

describe('a models folder with broken bundles', () => {
  const EXPECT: Record<string, RegExp> = {
    'missing-file': /missing file: reference\.onnx/,
    'wrong-flavour': /manifest says graph "logits" but the graph has the "logprobs" flavour/,
    'wrong-fingerprint': /fingerprint mismatch: prm\.json says sha256:0{64} but the files hash to sha256:[0-9a-f]{64}/,
    'bad-json': /prm\.json is not valid JSON: /,
    'bad-field': /prm\.json: "beta" must be a finite number > 0 \(got -1\)/,
    'wrong-layers': /num_layers 3 but the graph has 2 past_key_values/,
    'small-vocab': /the tokenizer has 53 ids but policy\.vocab_size is 40/,
    'no-eos': /append_eos is true but tokenizer_config\.json has no eos_token/,
  };
  let root: string;
  let service: LoadingScoringService;
  let logger: ReturnType<typeof recordingLogger>;

  beforeAll(async () => {
    root = tmpRoot();
    copyBundle(root, 'bigram-logprobs', 'good');
    rmSync(join(copyBundle(root, 'bigram-logits', 'missing-file'), 'reference.onnx'));
    editManifest(copyBundle(root, 'bigram-logprobs', 'wrong-flavour'), (m) => {
      m.policy.graph = 'logits';
      m.reference.graph = 'logits';
    });
    editManifest(copyBundle(root, 'bigram-logprobs', 'wrong-fingerprint'), (m) => {
      m.fingerprint = 'sha256:' + '0'.repeat(64);
    });
    writeFileSync(join(copyBundle(root, 'bigram-logprobs', 'bad-json'), 'prm.json'), '{"format": ');
    editManifest(copyBundle(root, 'bigram-logprobs', 'bad-field'), (m) => {
      m.beta = -1;
    });
    editManifest(copyBundle(root, 'bigram-logits', 'wrong-layers'), (m) => {
      m.policy.num_layers = 3;
      m.reference.num_layers = 3;
    });
    editManifest(copyBundle(root, 'bigram-logits', 'small-vocab'), (m) => {
      m.policy.vocab_size = 40;
      m.reference.vocab_size = 40;
    });
    const noEos = copyBundle(root, 'bigram-logits', 'no-eos');
    const cfg = JSON.parse(readFileSync(join(noEos, 'tokenizer_config.json'), 'utf8'));
    delete cfg.eos_token;
    writeFileSync(join(noEos, 'tokenizer_config.json'), JSON.stringify(cfg));
    mkdirSync(join(root, 'not-a-bundle'));
    writeFileSync(join(root, 'not-a-bundle', 'notes.txt'), 'no prm.json here');
    ({ service, logger } = await start(root));
  });

  it('names each broken bundle with its reason, and is not ready while unnamed requests go to one', () => {
    const r = service.readiness();
    // Without DEFAULT_MODEL, requests naming no model go to the first bundle: "bad-field".
    expect(service.defaultModel()).toBe('bad-field');
    expect(r.ready).toBe(false);
    for (const name of Object.keys(EXPECT)) expect(r.degraded.some((d) => d.startsWith(`bundle "${name}" failed: `)), name).toBe(true);
    expect(Object.keys(r.models).sort()).toEqual(['good', ...Object.keys(EXPECT)].sort());
    expect(r.models.good).toBe('ready');
    for (const [name, re] of Object.entries(EXPECT)) {
      expect(r.models[name], name).toMatch(/^failed: /);
      expect(r.models[name], name).toMatch(re);
    }
  });

  it('is ready when the default model serves: the broken bundles beside it are listed, not fatal', async () => {
    const { service: named } = await start(root, { defaultModel: 'good' });
    const r = named.readiness();
    expect(r.ready).toBe(true);
    expect(r.models.good).toBe('ready');
    expect(r.degraded).toHaveLength(Object.keys(EXPECT).length);
  });

  it('logs each failure with the bundle name and folder', () => {
    for (const [name, re] of Object.entries(EXPECT)) {
      const line = logger.errors.find((l) => l.startsWith(`bundle "${name}" (${join(root, name)}) failed to load: `));
      expect(line, name).toBeDefined();
      expect(line).toMatch(re);
    }
  });

  it('still serves the good bundle, and refuses a broken one with its reason', async () => {
    expect(service.models().map((m) => m.name)).toEqual(['good']);
    const res = await service.score('good', [{ prompt: '1+1', steps: ['2'] }], {});
    expect(res.results[0].steps).toHaveLength(1);
    await expect(service.score('wrong-fingerprint', [{ prompt: '1+1', steps: ['2'] }], {})).rejects.toMatchObject({
      code: 'NOT_READY',
      message: expect.stringMatching(/failed to load: fingerprint mismatch/),
    });
  });
});

describe('models folder problems', () => {
  it('an empty models folder is not ready and says so', async () => {
    const { service } = await start(tmpRoot());
    expect(service.readiness()).toEqual({ ready: false, models: {}, degraded: [expect.stringMatching(/^no model bundles/)] });
    await expect(service.score(undefined, [], {})).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });

  it('a missing models folder is not ready and says so', async () => {
    const { service } = await start(join(tmpRoot(), 'absent'));
    expect(service.readiness().ready).toBe(false);
    expect(service.readiness().degraded[0]).toMatch(/cannot read the models directory .*absent/);
  });

  it('a configured default model that does not exist keeps the service not ready', async () => {
    const root = tmpRoot();
    copyBundle(root, 'bigram-logits', 'only');
    const { service } = await start(root, { defaultModel: 'other' });
    const r = service.readiness();
    expect(r.models).toEqual({ only: 'ready' });
    expect(r.ready).toBe(false);
    expect(r.degraded).toEqual(['the default model "other" is not among the bundles found']);
  });

  it('answers NOT_READY before the models folder has been read', async () => {
    const root = tmpRoot();
    copyBundle(root, 'bigram-logits', 'only');
    const service = testScoringService({ MODELS_DIR: root }, { logger: recordingLogger() });
    services.push(service);
    await expect(service.score(undefined, [{ prompt: 'a', steps: ['b'] }], {})).rejects.toMatchObject({ code: 'NOT_READY' });
    expect(service.readiness().ready).toBe(false);
    await service.whenLoaded();
    expect(service.readiness().ready).toBe(true);
  });
});
