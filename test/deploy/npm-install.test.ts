/**
 * A fresh `npm ci` offline, as on a new machine: it must succeed without warnings (no unknown npm
 * config key, no engine mismatch, no unreviewed install script) and must not run onnxruntime-node's
 * install script, which downloads CUDA files. A local proxy stands in for the network: the script
 * sends its downloads through GLOBAL_AGENT_HTTPS_PROXY, so any attempt reaches it. The same proxy
 * sees the script's download when the script is run by hand, which shows the probe would notice.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;

let proxy: Server;
let proxyUrl = '';
let attempts = 0;
let dir = '';

/** This process's environment without `drop`, plus `add`. */
function envWith(add: Record<string, string>, drop: RegExp): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !drop.test(k))), ...add };
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: dir, env });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

beforeAll(async () => {
  proxy = createServer((socket) => {
    attempts++;
    socket.destroy();
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
  dir = mkdtempSync(join(tmpdir(), 'prm-npm-ci-'));
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, f), join(dir, f));
});

afterAll(() => {
  proxy?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Every proxy variable a downloader might read, and no onnxruntime-node switch of any kind.
const SWITCHES = /^(ONNXRUNTIME_NODE_INSTALL|npm_config_onnxruntime)/i;
const networkEnv = (drop = SWITCHES) =>
  envWith({ GLOBAL_AGENT_HTTPS_PROXY: proxyUrl, GLOBAL_AGENT_HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl, https_proxy: proxyUrl }, drop);

describe('fresh npm ci (offline)', () => {
  it('succeeds quietly and runs no install script', async () => {
    const { code, output } = await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], networkEnv());
    expect(output).not.toMatch(/Unknown (project|user|env) config|EBADENGINE|install-scripts|onnxruntime/);
    expect(code, output).toBe(0);
    expect(attempts).toBe(0);
    const binding = join(dir, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64');
    expect(readdirSync(binding).filter((f) => f.includes('providers'))).toEqual([]);
    const loads = await run(process.execPath, ['-e', "require('onnxruntime-node'); console.log('loaded')"], process.env);
    expect(loads.output.trim()).toBe('loaded');
  });

  it('the proxy sees the download when onnxruntime-node\'s script is run by hand', async () => {
    const script = join(dir, 'node_modules/onnxruntime-node/script/install.js');
    expect(existsSync(script)).toBe(true);
    const before = attempts;
    // Outside npm: without npm's variables the script does not take itself for a local build.
    const { output } = await run(process.execPath, [script], networkEnv(/^(ONNXRUNTIME_NODE_INSTALL|npm_config_onnxruntime|npm_config_local_prefix$|npm_package_json$)/i));
    expect(attempts, output).toBeGreaterThan(before);
  });
});
