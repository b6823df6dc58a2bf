/**
 * The service as a real process (src/server.ts through tsx) on a free loopback port, for the tests
 * that need what only a process has: signals, exit codes, its own Redis connection, a second
 * replica. Its JSON log lines are collected so a test can wait for something the server says
 * (a request received, a reload finished) instead of sleeping.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

const ROOT = new URL('../../', import.meta.url).pathname;

export { BUNDLES_DIR, modelsDirWith } from './bundles.js';

export type LogLine = Record<string, unknown> & { msg?: string };

export interface StartOptions {
  ready?: boolean;
  authorization?: string;
  /** Serve this checkout instead of this one. */
  repoRoot?: string;
  readyTimeoutMs?: number;
  /** Options for node itself, before the entry point (V8's GC flags, say: NODE_OPTIONS refuses some). */
  nodeArgs?: string[];
}

export class ServerProcess {
  readonly logs: LogLine[] = [];
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  url = '';
  private waiters: { test: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  private constructor(readonly child: ChildProcessByStdio<null, Readable, Readable>) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const onLine = (line: string) => {
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        parsed = { msg: line };
      }
      this.logs.push(parsed);
      this.waiters = this.waiters.filter((w) => {
        if (!w.test(parsed)) return true;
        w.resolve(parsed);
        return false;
      });
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
  }

  /**
   * Starts the server with `env` on top of quiet, single-threaded test defaults and waits until it
   * listens; with `ready` (default) also until /health/ready answers 200. With a PORT of its own
   * in `env` the address is known at once (the log may be quieter than info); `repoRoot` serves
   * another checkout (the bench's A/B runs).
   */
  static async start(env: Record<string, string>, opts: StartOptions = {}): Promise<ServerProcess> {
    // node itself with tsx as a loader, not the tsx CLI: the CLI is a parent process that relays
    // only some signals (not SIGHUP), and a signal must reach the server exactly as in production.
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', 'src/server.ts'], {
      cwd: opts.repoRoot ?? ROOT,
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        PRM_DEVICE: 'cpu',
        // Two shared cores: no onnxruntime thread pools per session.
        PRM_INTRA_OP_THREADS: '1',
        PRM_INTER_OP_THREADS: '1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new ServerProcess(child);
    // Never outlive the test process, whatever happens to it.
    const reap = () => child.kill('SIGKILL');
    process.once('exit', reap);
    void server.exited.then(() => process.off('exit', reap));
    try {
      server.url = await server.untilExit(server.address(env.PORT));
      if (opts.ready !== false) await server.untilExit(server.waitReady(opts.authorization, opts.readyTimeoutMs));
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    return server;
  }

  /** The fixed port's address, or the one the server logs once it listens. */
  private async address(port: string | undefined): Promise<string> {
    if (port !== undefined && port !== '0') return `http://127.0.0.1:${port}`;
    const line = await this.waitForLog((l) => /serving .* at http/.test(l.msg ?? ''), 60_000);
    return /at (http:\/\/[^ ]+) /.exec(line.msg!)![1]!;
  }

  /** `p`, unless the server exits first. */
  private untilExit<T>(p: Promise<T>): Promise<T> {
    const exit = this.exited.then((code): never => {
      throw new Error(`server exited with ${code} before it was ready:\n${this.logText()}`);
    });
    return Promise.race([p, exit]);
  }

  get pid(): number {
    return this.child.pid!;
  }

  logText(): string {
    return this.logs.map((l) => JSON.stringify(l)).join('\n');
  }

  /** The first log line (already seen or coming) that passes `test`. */
  waitForLog(test: (l: LogLine) => boolean, timeoutMs = 60_000): Promise<LogLine> {
    const seen = this.logs.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching log line in ${timeoutMs} ms:\n${this.logText()}`)), timeoutMs);
      this.waiters.push({
        test,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  /** Log lines from index `from` on that pass `test`. */
  countLogs(test: (l: LogLine) => boolean, from = 0): number {
    return this.logs.slice(from).filter(test).length;
  }

  async waitReady(authorization?: string, timeoutMs = 120_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    const headers: Record<string, string> = authorization ? { authorization } : {};
    for (;;) {
      const res = await fetch(`${this.url}/health/ready`, { headers }).catch(() => null);
      if (res?.status === 200) return;
      if (Date.now() > until) throw new Error(`server not ready in ${timeoutMs} ms: ${res ? await res.text() : 'no answer'}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves with the exit code. */
  async stop(graceMs = 30_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
