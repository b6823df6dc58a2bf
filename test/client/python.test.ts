/**
 * Runs the Python client's own tests (clients/python/tests, standard library + pytest) with the
 * trainer environment's Python against a live service, so `npm test` covers the Python client and its OpenRLHF
 * and verl examples too. Without PRM_URL those tests skip themselves; this checks both.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTrainerPython } from '../../scripts/trainer-python.js';
import { startLiveServer, type TestApp as LiveServer } from '../harness/app.js';

const ROOT = new URL('../../', import.meta.url).pathname;

/** Asynchronous on purpose: the service answering python runs in this process. */
function pytest(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(requireTrainerPython(), ['-m', 'pytest', '-q', '-rs', '-p', 'no:cacheprovider', 'clients/python/tests'], {
      cwd: ROOT,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PRM_URL: '', PRM_API_KEY: '', PRM_MODEL: '', ...env },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

let server: LiveServer;
beforeAll(async () => {
  server = await startLiveServer();
});
afterAll(() => server?.close());

describe('Python client (clients/python)', () => {
  it('passes its tests against the live service, none skipped', async () => {
    const { code, output } = await pytest({ PRM_URL: server.url });
    expect(output).toMatch(/\b\d+ passed\b/);
    expect(output).not.toMatch(/skipped|failed|error/i);
    expect(code).toBe(0);
  });

  it('skips the live tests when no service is named', async () => {
    const { code, output } = await pytest({});
    expect(output).toMatch(/\d+ passed, 19 skipped/);
    expect(code).toBe(0);
  });
});
