/**
 * Hot reload of a real server process while clients keep scoring: POST /admin/reload (admin key)
 * and SIGHUP switch a bundle to the new files on disk; every request in flight during the switch
 * succeeds on the old or the new version, requests sent after it use the new one, and the old
 * version is disposed. A broken new version is reported (422 RELOAD_FAILED, or the log for
 * SIGHUP) and the old one keeps serving.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installBundle, modelsDirWithCopy, replaceFile } from '../helpers/bundle-files.js';
import { failures, postJson, runLoad } from '../helpers/http-load.js';
import { BUNDLES_DIR, ServerProcess } from '../harness/server-process.js';
import { figure } from '../helpers/figures.js';
import { trace } from '../helpers/traces.js';

const fingerprintOf = (bundle: string) => (JSON.parse(readFileSync(join(BUNDLES_DIR, bundle, 'prm.json'), 'utf8')) as { fingerprint: string }).fingerprint;
const F1 = fingerprintOf('tiny-logprobs');
const F2 = fingerprintOf('tiny-logits');
const KEY = 'user-key-0123456789';
const ADMIN = 'admin-key-9876543210';
const user = { authorization: `Bearer ${KEY}` };
const admin = { authorization: `Bearer ${ADMIN}` };

let dir: string;
let server: ServerProcess;
beforeAll(async () => {
  dir = modelsDirWithCopy('tiny-logprobs', 'm');
  server = await ServerProcess.start({ MODELS_DIR: dir, API_KEYS: KEY, ADMIN_API_KEYS: ADMIN });
});
afterAll(async () => {
  expect(await server?.stop()).toBe(0);
});

async function servedFingerprint(): Promise<string> {
  const r = await postJson(`${server.url}/v1/score`, { items: [trace(1, 3)] }, user);
  expect(r.status).toBe(200);
  return r.body.model.fingerprint as string;
}

const disposed = (l: { msg?: string }) => /previous version of bundle "m" disposed/.test(l.msg ?? '');

/** Scores under load while `act` runs; returns every answer and when `act` finished. */
async function underLoad(act: () => Promise<void>) {
  let actDoneAt = Number.POSITIVE_INFINITY;
  let afterAct = 0;
  const acting = (async () => {
    // Let the load start first, so that the switch happens with requests in flight.
    await new Promise((r) => setTimeout(r, 200));
    await act();
    actDoneAt = performance.now();
  })();
  const sent = await runLoad({
    url: `${server.url}/v1/score`,
    clients: 3,
    headers: user,
    body: (i) => ({ items: [trace(i % 7, 3), trace(500 + i, 3)] }),
    stop: () => actDoneAt < performance.now() && afterAct++ >= 20,
  });
  await acting;
  return { sent, actDoneAt };
}

describe('hot reload', () => {
  it('POST /admin/reload switches under load without failing a request', async () => {
    expect(await servedFingerprint()).toBe(F1);
    installBundle(dir, 'm', 'tiny-logits');
    let reply: { status: number; body: any } | undefined;
    let reloadMs = 0;
    const { sent, actDoneAt } = await underLoad(async () => {
      const t0 = performance.now();
      reply = await postJson(`${server.url}/admin/reload`, { model: 'm' }, admin);
      reloadMs = performance.now() - t0;
    });
    expect(reply).toEqual({ status: 200, body: { reloaded: [{ name: 'm', fingerprint: F2, previous: F1 }] } });
    expect(failures(sent), JSON.stringify(failures(sent).slice(0, 2))).toEqual([]);
    const prints = sent.map((s) => (s.body as { model: { fingerprint: string } }).model.fingerprint);
    expect(new Set(prints)).toEqual(new Set([F1, F2]));
    // Sent after the reload answered: the new version, every one.
    const later = sent.filter((s) => s.sentAt > actDoneAt);
    expect(later.length).toBeGreaterThan(0);
    expect(new Set(later.map((s) => (s.body as { model: { fingerprint: string } }).model.fingerprint))).toEqual(new Set([F2]));
    await server.waitForLog(disposed);
    figure('hot-reload-admin', {
      requests: sent.length,
      failed: failures(sent).length,
      on_old_version: prints.filter((p) => p === F1).length,
      on_new_version: prints.filter((p) => p === F2).length,
      reload_call_ms: Math.round(reloadMs),
    });
    const models = await fetch(`${server.url}/v1/models`, { headers: user }).then((r) => r.json());
    expect(models.models.map((m: { fingerprint: string }) => m.fingerprint)).toEqual([F2]);
  });

  it('SIGHUP reloads every bundle the same way', async () => {
    installBundle(dir, 'm', 'tiny-logprobs');
    const disposedBefore = server.countLogs(disposed);
    const from = server.logs.length;
    const { sent } = await underLoad(async () => {
      server.signal('SIGHUP');
      await server.waitForLog((l) => l.msg === 'reload finished' && server.logs.indexOf(l) >= from);
    });
    expect(failures(sent)).toEqual([]);
    figure('hot-reload-sighup', { requests: sent.length, failed: failures(sent).length });
    expect(await servedFingerprint()).toBe(F1);
    for (let i = 0; i < 200 && server.countLogs(disposed) === disposedBefore; i++) await new Promise((r) => setTimeout(r, 25));
    expect(server.countLogs(disposed)).toBe(disposedBefore + 1);
  });

  it('a broken new version is reported and the old version keeps serving', async () => {
    replaceFile(dir, 'm', 'prm.json', '{"format": "implicit-prm-bundle", ');
    const bad = await postJson(`${server.url}/admin/reload`, { model: 'm' }, admin);
    expect(bad.status).toBe(422);
    expect(bad.body.error.code).toBe('RELOAD_FAILED');
    expect(bad.body.error.message).toContain('prm.json');
    expect(bad.body.error.message).toContain(`still serving ${F1}`);
    expect(await servedFingerprint()).toBe(F1);

    // A valid manifest with a graph onnxruntime cannot open.
    installBundle(dir, 'm', 'tiny-logits');
    const manifest = JSON.parse(readFileSync(join(dir, 'm', 'prm.json'), 'utf8')) as Record<string, unknown>;
    delete manifest.fingerprint;
    replaceFile(dir, 'm', 'prm.json', JSON.stringify(manifest));
    replaceFile(dir, 'm', 'reference.onnx', Buffer.alloc(4096, 7));
    const corrupt = await postJson(`${server.url}/admin/reload`, {}, admin);
    expect([corrupt.status, corrupt.body.error.code]).toEqual([422, 'RELOAD_FAILED']);
    expect(await servedFingerprint()).toBe(F1);

    const from = server.logs.length;
    server.signal('SIGHUP');
    await server.waitForLog((l) => l.msg === 'reload finished; failed: m' && server.logs.indexOf(l) >= from);
    expect(await servedFingerprint()).toBe(F1);
    const ready = await fetch(`${server.url}/health/ready`);
    expect(ready.status).toBe(200);
  });
});
