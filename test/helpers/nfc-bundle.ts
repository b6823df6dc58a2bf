/**
 * A models folder with models/arith-tiny and arith-nfc, a copy of it whose tokenizer.json has the
 * NFC normalizer Qwen's tokenizers have: a bundle whose tokenizer normalizes, small enough for
 * tests and scripts/hostile-bodies.ts. NFC leaves ASCII text as it is, so both give the same ids
 * for arithmetic.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ARITH = new URL('../../models/arith-tiny/', import.meta.url).pathname;

/** A fresh folder with arith-tiny (linked) and arith-nfc (a copy, no fingerprint: it differs). */
export function modelsDirWithNfcCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'prm-hostile-'));
  symlinkSync(ARITH, join(dir, 'arith-tiny'));
  const nfc = join(dir, 'arith-nfc');
  mkdirSync(nfc);
  for (const f of readdirSync(ARITH)) {
    if (statSync(join(ARITH, f)).isFile()) copyFileSync(join(ARITH, f), join(nfc, f));
  }
  const tokenizer = JSON.parse(readFileSync(join(ARITH, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(nfc, 'tokenizer.json'), JSON.stringify({ ...tokenizer, normalizer: { type: 'NFC' } }));
  const manifest = JSON.parse(readFileSync(join(ARITH, 'prm.json'), 'utf8')) as Record<string, unknown>;
  delete manifest.fingerprint;
  writeFileSync(join(nfc, 'prm.json'), JSON.stringify({ ...manifest, name: 'arith-nfc' }, null, 2));
  return dir;
}
