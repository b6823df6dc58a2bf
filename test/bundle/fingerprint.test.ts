/** The fingerprint recipe against the values the Python side wrote into committed bundles. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { computeFingerprint } from '../../src/bundle/fingerprint.js';
import { parseManifest } from '../../src/bundle/manifest.js';
import { BUNDLES_DIR, bigram } from '../fixtures/analytic/closed-form.js';

const TRAINER_BUNDLES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bundles');

function bundleDirs(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((n) => join(root, n))
    .filter((d) => existsSync(join(d, 'prm.json')));
}

describe('computeFingerprint', () => {
  it('equals the fingerprint make_bigram.py computed for every analytic bundle', async () => {
    for (const [name, fp] of Object.entries(bigram.fingerprints)) {
      const dir = join(BUNDLES_DIR, name);
      const m = parseManifest(JSON.parse(readFileSync(join(dir, 'prm.json'), 'utf8')));
      expect(await computeFingerprint(dir, m)).toBe(fp);
    }
  });

  it('equals the fingerprint in every trainer-exported bundle that declares one', async () => {
    for (const dir of bundleDirs(TRAINER_BUNDLES)) {
      const m = parseManifest(JSON.parse(readFileSync(join(dir, 'prm.json'), 'utf8')));
      if (m.fingerprint !== undefined) expect(await computeFingerprint(dir, m), dir).toBe(m.fingerprint);
    }
  });

  it('covers the text layout but not β', async () => {
    const dir = join(BUNDLES_DIR, 'bigram-logprobs');
    const m = parseManifest(JSON.parse(readFileSync(join(dir, 'prm.json'), 'utf8')));
    const base = await computeFingerprint(dir, m);
    expect(await computeFingerprint(dir, { ...m, beta: 0.001 })).toBe(base);
    for (const change of [{ step_separator: '\n\n' }, { prompt_template: '{prompt}' }, { use_chat_template: true }, { append_eos: false }]) {
      expect(await computeFingerprint(dir, { ...m, ...change })).not.toBe(base);
    }
  });
});
