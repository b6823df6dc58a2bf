/**
 * TRUST_BUNDLE_FINGERPRINT: prm.json's fingerprint is taken as it is, without hashing the files —
 * so a bundle changed after export loads under its old fingerprint (what the setting skips), while
 * the default refuses it; a bundle without a fingerprint is hashed either way.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBundle } from '../../src/bundle/load-bundle.js';
import { silentLogger } from '../../src/logger.js';
import { BUNDLES_DIR } from '../harness/server-process.js';

const work = mkdtempSync(join(tmpdir(), 'prm-trust-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const opts = { device: 'cpu' as const, engineThreads: 'main' as const, intraOpThreads: 1, logger: silentLogger };

function changedCopy(name: string, dropFingerprint = false): { dir: string; stored?: string } {
  const dir = join(work, name);
  cpSync(join(BUNDLES_DIR, 'tiny-logprobs'), dir, { recursive: true });
  const cfgPath = join(dir, 'tokenizer_config.json');
  writeFileSync(cfgPath, readFileSync(cfgPath, 'utf8').replace('{', '{"changed_after_export": true,'));
  const man = JSON.parse(readFileSync(join(dir, 'prm.json'), 'utf8'));
  const stored = man.fingerprint as string;
  if (dropFingerprint) {
    delete man.fingerprint;
    writeFileSync(join(dir, 'prm.json'), JSON.stringify(man));
  }
  return { dir, stored: dropFingerprint ? undefined : stored };
}

describe('TRUST_BUNDLE_FINGERPRINT', () => {
  it('loads a changed bundle under its stored fingerprint, which the default refuses', async () => {
    const { dir, stored } = changedCopy('changed');
    await expect(loadBundle(dir, opts)).rejects.toThrow(/fingerprint mismatch/);
    const b = await loadBundle(dir, { ...opts, trustFingerprint: true });
    expect(b.fingerprint).toBe(stored);
    await b.dispose();
  });

  it('hashes a bundle that stores no fingerprint', async () => {
    const { dir } = changedCopy('unsigned', true);
    const b = await loadBundle(dir, { ...opts, trustFingerprint: true });
    expect(b.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b.fingerprint).not.toBe(JSON.parse(readFileSync(join(BUNDLES_DIR, 'tiny-logprobs', 'prm.json'), 'utf8')).fingerprint);
    await b.dispose();
  });
});
