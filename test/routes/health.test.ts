/**
 * Probes against the real scoring service: liveness never depends on the models; readiness is 503
 * NOT_READY while a bundle loads or when one is broken (with the reason), 200 once all are loaded.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLES_DIR, buildTestApp, emptyModelsDir } from '../harness/app.js';

describe('GET /health/live', () => {
  it('is 200 even when no model can be served', async () => {
    const t = await buildTestApp({ MODELS_DIR: emptyModelsDir() });
    try {
      const res = await t.app.inject({ method: 'GET', url: '/health/live' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok' });
    } finally {
      await t.close();
    }
  });
});

describe('GET /health/ready', () => {
  it('is 503 NOT_READY while a bundle loads, then 200 with the readiness object', async () => {
    // The bundle's manifest is a named pipe: loading blocks on reading it until the test writes it,
    // so the "loading" state is observed for certain, not by winning a race.
    const dir = emptyModelsDir();
    cpSync(join(BUNDLES_DIR, 'tiny-ref-free'), join(dir, 'tiny-ref-free'), { recursive: true });
    const manifestPath = join(dir, 'tiny-ref-free', 'prm.json');
    const manifest = readFileSync(manifestPath);
    rmSync(manifestPath);
    execFileSync('mkfifo', [manifestPath]);

    const t = await buildTestApp({ MODELS_DIR: dir });
    try {
      const loading = await t.app.inject({ method: 'GET', url: '/health/ready' });
      expect(loading.statusCode).toBe(503);
      const body = loading.json();
      expect(body.error.code).toBe('NOT_READY');
      expect(body.ready).toBe(false);
      // Either the folder is not listed yet or the bundle is listed as loading.
      expect(Object.values(body.models).every((s) => s === 'loading')).toBe(true);

      writeFileSync(manifestPath, manifest);
      await t.scoring.whenLoaded();
      const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toEqual({ ready: true, models: { 'tiny-ref-free': 'ready' }, degraded: [] });
    } finally {
      await t.close();
    }
  });

  it('is 503 with the reason when a bundle is broken', async () => {
    const dir = emptyModelsDir();
    cpSync(join(BUNDLES_DIR, 'tiny-ref-free'), join(dir, 'broken'), { recursive: true });
    rmSync(join(dir, 'broken', 'tokenizer.json'));
    const t = await buildTestApp({ MODELS_DIR: dir });
    try {
      await t.scoring.whenLoaded();
      const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
      expect(res.statusCode).toBe(503);
      const body = res.json();
      expect(body.error.code).toBe('NOT_READY');
      expect(body.models.broken).toMatch(/^failed: .*tokenizer\.json/);
      expect(body.error.message).toContain('broken: failed:');

      // Scoring with it says the same thing, in the error shape.
      const score = await t.app.inject({
        method: 'POST',
        url: '/v1/score',
        payload: { model: 'broken', items: [{ prompt: '1+1', steps: ['1+1=2'] }] },
      });
      expect(score.statusCode).toBe(503);
      expect(score.json().error.code).toBe('NOT_READY');
      expect(score.json().error.message).toContain('tokenizer.json');
    } finally {
      await t.close();
    }
  });

  it('is 503 with the reason when the models folder has no bundle', async () => {
    const t = await buildTestApp({ MODELS_DIR: emptyModelsDir() });
    try {
      await t.scoring.whenLoaded();
      const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('NOT_READY');
      expect(res.json().degraded.join(' ')).toContain('no model bundles');
    } finally {
      await t.close();
    }
  });
});
