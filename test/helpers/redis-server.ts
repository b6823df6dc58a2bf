/**
 * Starts a private redis-server on a free loopback port for one test file, so cache tests use a
 * real Redis without touching the shared one on 6379, and can kill and restart it at will.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * util-linux's setpriv execs redis-server with a parent-death signal, so the server dies with the
 * test process that started it however that process ends (a crashed or timed-out worker included):
 * no redis-server outlives its suite. Where setpriv is missing, the exit hook below still applies.
 */
const SETPRIV = spawnSync('setpriv', ['--help'], { encoding: 'utf8' }).stdout?.includes('--pdeathsig') === true;

/** Every server still running, killed when the test process exits. */
const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((p) => p.kill('SIGKILL')));

export class RedisProcess {
  private proc: ChildProcess | null = null;

  private constructor(readonly port: number) {}

  static async start(port?: number): Promise<RedisProcess> {
    const r = new RedisProcess(port ?? (await freePort()));
    await r.startProcess();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async startProcess(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const proc = SETPRIV ? spawn('setpriv', ['--pdeathsig', 'KILL', 'redis-server', ...args], { stdio: 'ignore' }) : spawn('redis-server', args, { stdio: 'ignore' });
    running.add(proc);
    proc.once('exit', () => running.delete(proc));
    this.proc = proc;
    const probe = new Redis(this.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    for (let i = 0; i < 100; i++) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    probe.disconnect();
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** SIGSTOP: a Redis that accepts connections but never answers (swapping, stuck, partitioned). */
  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  /** SIGKILL: the way a crashed Redis disappears. */
  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
      // A stopped process dies from SIGKILL too, but continuing it does no harm.
      p.kill('SIGCONT');
    });
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.startProcess();
  }
}
