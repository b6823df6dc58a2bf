/**
 * The entry point as a real process: it refuses bad settings with a clear message, serves, and
 * exits 0 on SIGTERM after closing.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { modelsDirWith } from '../harness/app.js';

const root = new URL('../../', import.meta.url).pathname;
const tsx = `${root}node_modules/.bin/tsx`;

function start(env: Record<string, string>) {
  return spawn(tsx, ['src/server.ts'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function exitCode(child: ReturnType<typeof start>): Promise<number | null> {
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

describe('src/server.ts', () => {
  it('exits 1 naming the bad variable', async () => {
    const child = start({ PORT: 'eighty', PRM_DEVICE: 'tpu' });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    expect(await exitCode(child)).toBe(1);
    expect(stderr).toContain("PORT: must be an integer, got 'eighty'");
    expect(stderr).toContain('PRM_DEVICE: must be one of auto, cuda, cpu');
  });

  it('serves, then exits 0 on SIGTERM', async () => {
    const child = start({ PORT: '0', HOST: '127.0.0.1', MODELS_DIR: modelsDirWith('tiny-ref-free'), PRM_DEVICE: 'cpu', LOG_LEVEL: 'info' });
    const exited = exitCode(child);
    const lines = createInterface({ input: child.stdout });
    let address: string | undefined;
    for await (const line of lines) {
      const m = /serving .* at (http:\/\/[^ ]+) /.exec(line);
      if (m) {
        address = m[1];
        break;
      }
    }
    expect(address).toBeDefined();
    const live = await fetch(`${address}/health/live`);
    expect(live.status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
