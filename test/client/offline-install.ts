/**
 * What the package tests need to install a packed client as a user would, with no network: a
 * child-process runner (asynchronous, so the service answering in this process stays
 * responsive) and a proxy that counts and drops every connection, named in every proxy variable
 * npm and pip read, so any download attempt is seen.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';

export interface CommandResult {
  code: number | null;
  output: string;
  stdout: string;
}

export function runCommand(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env });
    let output = '';
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output, stdout }));
  });
}

export interface TrapProxy {
  /** Connections attempted so far. */
  attempts(): number;
  /** This process's environment with every proxy variable pointing at the trap. */
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export async function startTrapProxy(): Promise<TrapProxy> {
  let attempts = 0;
  const server: Server = createServer((socket) => {
    attempts++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const proxyVars = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'npm_config_proxy', 'npm_config_https_proxy'];
  return {
    attempts: () => attempts,
    env: (extra = {}) => ({
      ...process.env,
      ...Object.fromEntries(proxyVars.map((k) => [k, url])),
      NO_PROXY: '127.0.0.1,localhost',
      no_proxy: '127.0.0.1,localhost',
      ...extra,
    }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
