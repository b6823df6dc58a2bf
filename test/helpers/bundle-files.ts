/**
 * Model bundle folders that tests can change under a running server: a copy of a test bundle, its
 * files replaced by another bundle's the way an operator should do it (each file written beside
 * the old one, then renamed over it, so a loaded version never sees a half-written file), or
 * broken on purpose.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLES_DIR } from '../harness/server-process.js';

/** A fresh models folder with a copy of test bundle `from` named `as`. */
export function modelsDirWithCopy(from: string, as: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'prm-reload-'));
  installBundle(dir, as, from);
  return dir;
}

/** Puts the files of test bundle `from` into `<modelsDir>/<as>`, replacing what is there. */
export function installBundle(modelsDir: string, as: string, from: string): void {
  const target = join(modelsDir, as);
  mkdirSync(target, { recursive: true });
  const src = join(BUNDLES_DIR, from);
  const files = readdirSync(src);
  for (const f of files) {
    copyFileSync(join(src, f), join(target, `.${f}.new`));
    renameSync(join(target, `.${f}.new`), join(target, f));
  }
  // A reference-free bundle has no reference.onnx: do not leave the other bundle's behind.
  for (const f of readdirSync(target)) if (!files.includes(f)) rmSync(join(target, f));
}

/** Overwrites one file of `<modelsDir>/<name>` (atomically, as above). */
export function replaceFile(modelsDir: string, name: string, file: string, content: string | Buffer): void {
  const tmp = join(modelsDir, name, `.${file}.new`);
  writeFileSync(tmp, content);
  renameSync(tmp, join(modelsDir, name, file));
}
