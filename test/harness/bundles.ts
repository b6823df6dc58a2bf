/** The small test bundles (test/fixtures/bundles) and models folders made of them. */
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BUNDLES_DIR = new URL('../fixtures/bundles/', import.meta.url).pathname;

/** A models folder with no bundles in it: the service starts but never becomes ready. */
export function emptyModelsDir(): string {
  return mkdtempSync(join(tmpdir(), 'prm-no-models-'));
}

/** A models folder holding only the named test bundles (linked, not copied). */
export function modelsDirWith(...bundles: string[]): string {
  const dir = emptyModelsDir();
  for (const name of bundles) symlinkSync(join(BUNDLES_DIR, name), join(dir, name));
  return dir;
}
