/**
 * trainer/setup-venv.sh on a copy of the trainer folder with a lock file of its own (no packages,
 * so nothing is downloaded) and a cache folder of its own: it builds the environment through
 * scripts/locked-venv.sh (whose reuse and rebuild rules test/scripts/locked-venv.test.ts checks)
 * and links trainer/.venv to it, and leaves a real trainer/.venv folder alone.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'prm-venv-'));
const cache = join(work, 'cache');
afterAll(() => rmSync(work, { recursive: true, force: true }));

function checkout(name: string, lock: string): string {
  const trainer = join(work, name, 'trainer');
  mkdirSync(trainer, { recursive: true });
  mkdirSync(join(work, name, 'scripts'));
  copyFileSync(join(ROOT, 'trainer/setup-venv.sh'), join(trainer, 'setup-venv.sh'));
  copyFileSync(join(ROOT, 'scripts/locked-venv.sh'), join(work, name, 'scripts/locked-venv.sh'));
  writeFileSync(join(trainer, 'requirements.lock'), lock);
  return trainer;
}

function setup(trainer: string): { status: number | null; stderr: string; venv: string } {
  const r = spawnSync('bash', [join(trainer, 'setup-venv.sh')], { env: { ...process.env, IMPLICIT_PRM_VENV_CACHE: cache }, encoding: 'utf8' });
  const link = join(trainer, '.venv');
  return { status: r.status, stderr: r.stderr, venv: existsSync(link) && lstatSync(link).isSymbolicLink() ? readlinkSync(link) : '' };
}

describe('trainer/setup-venv.sh', () => {
  const lock = '# no packages\n';

  it('builds outside the checkout and links it; a second checkout links the same one', () => {
    const first = setup(checkout('a', lock));
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/building .*trainer-venv-[0-9a-f]{16}/);
    expect(first.venv.startsWith(cache)).toBe(true);
    expect(existsSync(join(first.venv, 'bin', 'python'))).toBe(true);

    const second = setup(checkout('b', lock));
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/reusing/);
    expect(second.venv).toBe(first.venv);
  }, 120_000);

  it('leaves a real trainer/.venv folder alone and says why', () => {
    const trainer = checkout('f', lock);
    mkdirSync(join(trainer, '.venv'));
    const r = setup(trainer);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/exists and is not a link/);
  }, 120_000);
});
