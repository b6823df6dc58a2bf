// The closest thing to running the image without a Docker engine: compile src/ with tsc into a
// temporary folder laid out like the image's /app (package.json, node_modules, dist/), start the
// image's CMD there, and check what the HEALTHCHECK, the probes and the orchestrator rely on:
// /health/live, /health/ready once the models are warm, /metrics, and exit 0 after SIGTERM.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDockerfile } from './dockerfile.js';
import { ROOT, abs } from './repo.js';

const app = mkdtempSync(join(tmpdir(), 'prm-image-'));
let server: ChildProcess | undefined;
let port = 0;
let log = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function waitFor(path: string, status: number, ms: number): Promise<Response> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}${path}`);
      if (r.status === status) return r;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || server?.exitCode !== null) throw new Error(`${path} never answered ${status}; server output:\n${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  // Same layout as the runtime stage: /app/{package.json,node_modules,dist}. Only src/ is compiled,
  // as in the image (.dockerignore leaves tests and scripts out); type errors do not stop emit.
  copyFileSync(abs('package.json'), join(app, 'package.json'));
  symlinkSync(abs('node_modules'), join(app, 'node_modules'), 'dir');
  const tsconfig = {
    extends: abs('tsconfig.json'),
    compilerOptions: { outDir: join(app, 'dist'), rootDir: ROOT, declaration: false, sourceMap: false, typeRoots: [abs('node_modules/@types')] },
    include: [abs('src')],
  };
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(tsconfig));
  spawnSync(process.execPath, [abs('node_modules/typescript/bin/tsc'), '-p', join(app, 'tsconfig.json')], { encoding: 'utf8' });

  const cmd = parseDockerfile('Dockerfile').final.instrs.find((i) => i.keyword === 'CMD')!.json!;
  port = await freePort();
  server = spawn(cmd[0] === 'node' ? process.execPath : cmd[0], cmd.slice(1), {
    cwd: app,
    env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', PRM_DEVICE: 'cpu', LOG_LEVEL: 'warn', MODELS_DIR: abs('test/fixtures/bundles'), PRM_INTRA_OP_THREADS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (d) => (log += d));
  server.stderr!.on('data', (d) => (log += d));
}, 180_000);

afterAll(() => {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  rmSync(app, { recursive: true, force: true });
});

describe('the image entry point, run from an image-like layout', () => {
  it('answers /health/live, then /health/ready once the models are warm', async () => {
    await waitFor('/health/live', 200, 60_000);
    await waitFor('/health/ready', 200, 60_000);
  }, 130_000);

  it('exports prm_models_ready on /metrics', async () => {
    const text = await (await waitFor('/metrics', 200, 5_000)).text();
    expect(Number(/^prm_models_ready (\d+)/m.exec(text)?.[1])).toBeGreaterThan(0);
  });

  it('exits 0 after SIGTERM (docker stop, pod termination)', async () => {
    expect(server!.exitCode, `the server had already exited:\n${log}`).toBeNull();
    const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
    server!.kill('SIGTERM');
    expect(await exited, log).toBe(0);
  }, 60_000);
});
