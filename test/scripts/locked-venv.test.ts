/**
 * scripts/locked-venv.sh with lock files of no packages (nothing is downloaded) and a cache folder
 * of its own: it prints the folder of an environment built outside the checkout and named after
 * the tool, reuses it for the same name and lock, builds another for a changed lock, and rebuilds a
 * half-built one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = new URL('../../scripts/locked-venv.sh', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'prm-locked-venv-'));
const cache = join(work, 'cache');
afterAll(() => rmSync(work, { recursive: true, force: true }));

function lockFile(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

function build(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', [SCRIPT, ...args], { env: { ...process.env, IMPLICIT_PRM_VENV_CACHE: cache }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('scripts/locked-venv.sh', () => {
  const lock = lockFile('a.lock', '# no packages\n');

  it('builds once outside the checkout and prints only its folder; the same name and lock reuse it', () => {
    const first = build('tool', lock);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/tool venv: building/);
    const venv = first.stdout.trim();
    expect(venv).toMatch(new RegExp(`^${cache}/tool-venv-[0-9a-f]{16}$`));
    expect(existsSync(join(venv, 'bin', 'python'))).toBe(true);

    const again = build('tool', lockFile('copy.lock', '# no packages\n'));
    expect(again.stderr).toMatch(/reusing/);
    expect(again.stdout.trim()).toBe(venv);
  }, 120_000);

  it('builds anew for a changed lock, and rebuilds a half-built environment', () => {
    const before = build('tool', lock).stdout.trim();
    const changed = build('tool', lockFile('b.lock', '# no packages, other text\n'));
    expect(changed.stderr).toMatch(/building/);
    expect(changed.stdout.trim()).not.toBe(before);

    unlinkSync(join(before, '.complete'));
    const rebuilt = build('tool', lock);
    expect(rebuilt.stderr).toMatch(/building/);
    expect(rebuilt.stdout.trim()).toBe(before);
    expect(existsSync(join(before, '.complete'))).toBe(true);
  }, 120_000);

  it('refuses a missing lock file with its usage', () => {
    const r = build('tool', join(work, 'absent.lock'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/usage/);
    expect(r.stdout).toBe('');
  });
});
