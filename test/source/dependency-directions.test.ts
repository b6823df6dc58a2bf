/**
 * Imports in src/ run one way: the layers below the core never reach up into it, the core never
 * reads settings (it receives its options from app.ts), and the bundle format knows nothing of
 * the caches. A file that breaks a rule is named with the import that breaks it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../../src/', import.meta.url).pathname;

/** [importing folder, imported path prefix]: imports that must not exist. */
const FORBIDDEN: [string, string][] = [
  ['cache', 'core/'],
  ['core', 'config.ts'],
  ['bundle', 'cache/'],
  ['batching', 'core/'],
  ['engine', 'core/'],
  ['engine', 'cache/'],
  ['engine', 'config.ts'],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import of a file, as a path under src/ ending in .ts. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)[^'"]*from '(\.[^']+)'/gm)].map((m) =>
    relative(SRC, resolve(dirname(file), m[1]!)).replace(/\.js$/, '.ts'),
  );
}

describe('dependency directions in src/', () => {
  const files = sourceFiles(SRC).map((f) => ({ path: relative(SRC, f), imports: importsOf(f) }));

  it('reads the imports', () => {
    expect(files.some((f) => f.imports.length > 0)).toBe(true);
  });

  it.each(FORBIDDEN)('nothing in %s/ imports %s', (from, to) => {
    const bad = files
      .filter((f) => f.path.startsWith(`${from}/`))
      .flatMap((f) => f.imports.filter((i) => i.startsWith(to)).map((i) => `${f.path} → ${i}`));
    expect(bad).toEqual([]);
  });

  it('defines the Logger type outside engine/', () => {
    const inEngine = files.filter((f) => f.path.startsWith('engine/') && /export (interface|type) Logger\b/.test(readFileSync(join(SRC, f.path), 'utf8')));
    expect(inEngine.map((f) => f.path)).toEqual([]);
  });
});
