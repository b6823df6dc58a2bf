/**
 * REQUIRE_FINGERPRINT: a bundle whose weights were damaged after export still loads and scores
 * when its prm.json has no fingerprint (nothing to compare with: the damaged graph gives finite,
 * wrong log-probs) — so with the setting, as in the images and the Kubernetes manifests, a bundle
 * without a fingerprint is refused, and one with a fingerprint shows the damage as a mismatch.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBundle } from '../../src/bundle/load-bundle.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { BUNDLES_DIR } from '../harness/server-process.js';

const work = mkdtempSync(join(tmpdir(), 'prm-require-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const opts = { device: 'cpu' as const, engineThreads: 'main' as const, intraOpThreads: 1, logger: silentLogger };

/** tiny-logprobs with bytes in the middle of the policy's weights changed (the graph still parses). */
function damagedCopy(name: string, keepFingerprint: boolean): string {
  const dir = join(work, name);
  cpSync(join(BUNDLES_DIR, 'tiny-logprobs'), dir, { recursive: true });
  const graph = readFileSync(join(dir, 'policy.onnx'));
  for (let i = Math.floor(graph.length * 0.6); i < Math.floor(graph.length * 0.6) + 64; i++) graph[i] = graph[i]! ^ 0x01;
  writeFileSync(join(dir, 'policy.onnx'), graph);
  if (!keepFingerprint) {
    const man = JSON.parse(readFileSync(join(dir, 'prm.json'), 'utf8'));
    delete man.fingerprint;
    writeFileSync(join(dir, 'prm.json'), JSON.stringify(man));
  }
  return dir;
}

describe('REQUIRE_FINGERPRINT', () => {
  it('is off by default and on when set', () => {
    expect(loadConfig({}).requireBundleFingerprint).toBe(false);
    expect(loadConfig({ REQUIRE_FINGERPRINT: 'true' }).requireBundleFingerprint).toBe(true);
  });

  it('without it, damaged weights without a fingerprint load unnoticed', async () => {
    const b = await loadBundle(damagedCopy('unsigned-open', false), opts);
    expect(b.fingerprint).toMatch(/^sha256:/);
    await b.dispose();
  });

  it('with it, a bundle without a fingerprint is refused, saying why', async () => {
    await expect(loadBundle(damagedCopy('unsigned', false), { ...opts, requireFingerprint: true })).rejects.toThrow(
      /prm\.json has no fingerprint, and REQUIRE_FINGERPRINT is set/,
    );
  });

  it('with it, a bundle with its fingerprint loads, and a damaged one is a mismatch', async () => {
    const b = await loadBundle(join(BUNDLES_DIR, 'tiny-logprobs'), { ...opts, requireFingerprint: true });
    await b.dispose();
    await expect(loadBundle(damagedCopy('signed', true), { ...opts, requireFingerprint: true })).rejects.toThrow(/fingerprint mismatch/);
  });
});
