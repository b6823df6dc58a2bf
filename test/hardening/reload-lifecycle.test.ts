/**
 * Hot reload inside the process, with real onnxruntime sessions: the new version loads beside the
 * old one and the name switches at once; a version still used by a request is disposed only when
 * that request lets go; a broken new version changes nothing; new folders join on a full reload;
 * and a new version never reads the old version's cache entries (its fingerprint differs).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LoadedBundle } from '../../src/bundle/load-bundle.js';
import { BundleRegistry } from '../../src/core/bundle-registry.js';
import { testScoringService } from '../harness/app.js';
import { silentLogger } from '../../src/logger.js';
import { installBundle, modelsDirWithCopy, replaceFile } from '../helpers/bundle-files.js';
import { BUNDLES_DIR } from '../harness/server-process.js';
import { trace } from '../helpers/traces.js';

const fingerprintOf = (bundle: string) => (JSON.parse(readFileSync(join(BUNDLES_DIR, bundle, 'prm.json'), 'utf8')) as { fingerprint: string }).fingerprint;
const F_LOGPROBS = fingerprintOf('tiny-logprobs');
const F_LOGITS = fingerprintOf('tiny-logits');
const ROW = { tokens: [5, 6, 7], targets: [6, 7, -1] };

function servingBundle(registry: BundleRegistry, name: string): LoadedBundle {
  const e = registry.get(name);
  if (e?.state !== 'ready') throw new Error(`${name} is not ready: ${JSON.stringify(e)}`);
  return e.bundle;
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
}

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
});

describe('readiness across reloads', () => {
  it('a broken new folder does not take the service out of service, and leaves with its folder', async () => {
    const dir = modelsDirWithCopy('tiny-logprobs', 'good');
    const service = testScoringService({ MODELS_DIR: dir });
    closers.push(() => service.close());
    await service.whenLoaded();
    expect(service.readiness()).toEqual({ ready: true, models: { good: 'ready' }, degraded: [] });

    mkdirSync(join(dir, 'new-broken'));
    writeFileSync(join(dir, 'new-broken', 'prm.json'), JSON.stringify({ format: 'implicit-prm-bundle' }));
    const outcomes = await service.reload();
    expect(outcomes.find((o) => o.name === 'new-broken')).toMatchObject({ ok: false });
    const broken = service.readiness();
    expect(broken.ready).toBe(true);
    expect(broken.models['new-broken']).toMatch(/^failed: prm\.json: "format_version" must be 1/);
    expect(broken.degraded).toEqual([expect.stringMatching(/^bundle "new-broken" failed: /)]);
    expect((await service.score('good', [trace(2)], {})).results).toHaveLength(1);

    rmSync(join(dir, 'new-broken'), { recursive: true });
    await service.reload();
    expect(service.readiness()).toEqual({ ready: true, models: { good: 'ready' }, degraded: [] });
  });
});

describe('BundleRegistry.reload', () => {
  it('switches to the new version and disposes the old one only after its last lease is returned', async () => {
    expect(F_LOGPROBS).not.toBe(F_LOGITS);
    const dir = modelsDirWithCopy('tiny-logprobs', 'm');
    const registry = new BundleRegistry({ modelsDir: dir, engine: { device: 'cpu', intraOpThreads: 1, interOpThreads: 1, logger: silentLogger } });
    closers.push(() => registry.close());
    await registry.loaded;
    const old = servingBundle(registry, 'm');
    expect(old.fingerprint).toBe(F_LOGPROBS);

    const release = registry.lease(old);
    installBundle(dir, 'm', 'tiny-logits');
    expect(await registry.reload('m')).toEqual([{ name: 'm', ok: true, fingerprint: F_LOGITS, previous: F_LOGPROBS }]);
    const fresh = servingBundle(registry, 'm');
    expect(fresh).not.toBe(old);
    expect(fresh.fingerprint).toBe(F_LOGITS);

    // Still leased: the old sessions keep working for the request that holds them.
    expect(registry.retiring).toBe(1);
    expect((await old.policy.forward([ROW]))[0]!.logprobs).toHaveLength(3);
    release();
    release(); // a second release changes nothing
    await until(() => registry.retiring === 0);
    expect(registry.retiring).toBe(0);
    await expect(old.policy.forward([ROW])).rejects.toThrow(/disposed/);
    expect((await fresh.policy.forward([ROW]))[0]!.logprobs).toHaveLength(3);
  });

  it('a broken new version leaves the old one serving; a full reload adds new folders', async () => {
    const dir = modelsDirWithCopy('tiny-logprobs', 'm');
    const registry = new BundleRegistry({ modelsDir: dir, engine: { device: 'cpu', intraOpThreads: 1, interOpThreads: 1, logger: silentLogger } });
    closers.push(() => registry.close());
    await registry.loaded;
    const serving = servingBundle(registry, 'm');

    replaceFile(dir, 'm', 'prm.json', '{"format": "implicit-prm-bundle", ');
    const [broken] = await registry.reload('m');
    expect(broken).toMatchObject({ name: 'm', ok: false, serving: F_LOGPROBS, reason: expect.stringContaining('prm.json') });
    expect(servingBundle(registry, 'm')).toBe(serving);

    // A valid manifest over a corrupt graph: fails when onnxruntime opens it.
    installBundle(dir, 'm', 'tiny-logits');
    const manifest = JSON.parse(readFileSync(join(dir, 'm', 'prm.json'), 'utf8')) as Record<string, unknown>;
    delete manifest.fingerprint;
    replaceFile(dir, 'm', 'prm.json', JSON.stringify(manifest));
    replaceFile(dir, 'm', 'policy.onnx', Buffer.from('not an onnx graph'));
    const [corrupt] = await registry.reload('m');
    expect(corrupt).toMatchObject({ name: 'm', ok: false, serving: F_LOGPROBS });
    expect(servingBundle(registry, 'm')).toBe(serving);
    expect(registry.retiring).toBe(0);
    expect((await serving.policy.forward([ROW]))[0]!.logprobs).toHaveLength(3);

    installBundle(dir, 'm', 'tiny-logprobs');
    installBundle(dir, 'n', 'tiny-ref-free');
    const all = await registry.reload();
    expect(all.map((o) => [o.name, o.ok])).toEqual([['m', true], ['n', true]]);
    expect(registry.names()).toEqual(['m', 'n']);
    expect(registry.ready().map((b) => b.name)).toEqual(['m', 'n']);
    await expect(registry.reload('../m')).rejects.toThrow(/not a bundle folder name/);
    await expect(registry.reload('absent')).rejects.toThrow(/no bundle folder/);
  });
});

describe('ScoringService.reload', () => {
  it('requests after the switch use the new version, and do not read the old version cache entries', async () => {
    const dir = modelsDirWithCopy('tiny-logprobs', 'm');
    const scoring = testScoringService({ MODELS_DIR: dir });
    closers.push(() => scoring.close());
    await scoring.whenLoaded();
    const item = trace(3, 3);
    const first = await scoring.score('m', [item], {});
    const again = await scoring.score('m', [item], {});
    expect(again.usage.cached_tokens).toBe(again.usage.response_tokens);

    installBundle(dir, 'm', 'tiny-logits');
    await scoring.reload('m');
    const after = await scoring.score('m', [item], {});
    expect(after.model.fingerprint).toBe(F_LOGITS);
    expect(first.model.fingerprint).toBe(F_LOGPROBS);
    expect(after.usage.cached_tokens).toBe(0);
    await until(() => scoring.load().retiringBundles === 0);
    expect(scoring.load()).toEqual({ inFlight: 0, retiringBundles: 0 });
  });
});
