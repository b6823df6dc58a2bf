/**
 * `npm start` as a user runs it: SIGTERM to the npm process must stop the server too. npm passes
 * the signal only to its direct child, so the start script execs node (no shell or CLI wrapper in
 * between); this checks that no process of the tree is left and nothing listens afterwards.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { modelsDirWith } from '../harness/server-process.js';

const ROOT = new URL('../../', import.meta.url).pathname;

/** Every process below `pid`, from /proc (parent id is the 4th field of /proc/<pid>/stat). */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // the process ended while being read
    }
  }
  const found: number[] = [];
  const walk = (p: number) => parentOf.forEach((parent, child) => parent === p && (found.push(child), walk(child)));
  walk(pid);
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (check()) return true;
  return check();
}

describe('npm start', () => {
  it('SIGTERM to npm leaves no server running', async () => {
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      env: { ...process.env, HOST: '127.0.0.1', PORT: '0', PRM_DEVICE: 'cpu', PRM_INTRA_OP_THREADS: '1', MODELS_DIR: modelsDirWith('tiny-logprobs') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let tree: number[] = [];
    try {
      const port = await new Promise<number>((resolve, reject) => {
        createInterface({ input: npm.stdout }).on('line', (line) => {
          const m = /at http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
          if (m) resolve(Number(m[1]));
        });
        npm.once('exit', (code) => reject(new Error(`npm start exited (${code}) before serving`)));
      });
      tree = descendants(npm.pid!);
      expect(tree.length).toBeGreaterThan(0);
      expect(await accepts(port)).toBe(true);

      const exited = new Promise((resolve) => npm.once('exit', resolve));
      npm.kill('SIGTERM');
      await exited;
      expect(await until(() => tree.every((p) => !alive(p)), 15_000)).toBe(true);
      expect(await accepts(port)).toBe(false);
    } finally {
      for (const p of [npm.pid!, ...tree]) if (alive(p)) process.kill(p, 'SIGKILL');
    }
  });
});
