/**
 * Runs the real `prm` executable (bin/prm) as a child process, asynchronously: the service these
 * tests talk to runs in the test process, so a blocking spawn would deadlock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PRM = new URL('../../bin/prm', import.meta.url).pathname;
export const ROOT = new URL('../../', import.meta.url).pathname;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  done: Promise<CliResult>;
  stderr(): string;
}

export function startCli(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Running {
  const child = spawn(process.execPath, [PRM, ...args], {
    cwd: ROOT,
    env: { ...process.env, PRM_URL: '', PRM_API_KEY: '', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin!.end(opts.input ?? '');
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, stderr: () => stderr };
}

export const runCli = (args: string[], opts: { input?: string; env?: Record<string, string> } = {}) => startCli(args, opts).done;

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'prm-cli-'));
}

/** Parses JSON Lines output. */
export const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

export async function until(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
