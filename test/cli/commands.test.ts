/**
 * `prm serve`, `prm bench` and the help of every command, with real processes: the server is
 * started through the CLI exactly as a user would, and bench measures it.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrmClient } from '../../src/client/index.js';
import { runCli, startCli, type Running } from './run-cli.js';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

let serve: Running;
let url: string;

beforeAll(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  serve = startCli(
    ['serve', '--port', String(port), '--host', '127.0.0.1', '--models-dir', 'test/fixtures/bundles', '--default-model', 'tiny-ref-free', '--device', 'cpu', '--log-level', 'warn'],
    { env: { PRM_INTRA_OP_THREADS: '1', PRM_INTER_OP_THREADS: '1' } },
  );
  await new PrmClient({ baseUrl: url }).waitUntilReady(90_000);
});

afterAll(async () => {
  if (serve && serve.child.exitCode === null) {
    serve.child.kill('SIGTERM');
    await serve.done;
  }
});

describe('prm serve', () => {
  it('serves the models folder with the flags applied', async () => {
    const models = await new PrmClient({ baseUrl: url }).models();
    expect(models.default_model).toBe('tiny-ref-free');
    expect(models.models.map((m) => m.name).sort()).toEqual(['tiny-logits', 'tiny-logprobs', 'tiny-logprobs-fused', 'tiny-ref-free']);
    expect((await fetch(`${url}/playground`)).status).toBe(200);
  });
});

describe('prm bench', () => {
  it('measures throughput and latency of a running service', async () => {
    const res = await runCli(['bench', '--url', url, '-n', '6', '-c', '2', '-k', '3', '--steps', '3', '--warmup', '1', '--json', '--seed', '7']);
    expect(res.code).toBe(0);
    const s = JSON.parse(res.stdout) as Record<string, any>;
    expect(s).toMatchObject({ model: 'tiny-ref-free', requests: 6, concurrency: 2, items_per_request: 3, steps_per_trace: 3, ok: 6, failed: {} });
    expect(s.tokens_per_s).toBeGreaterThan(0);
    expect(s.traces_per_s).toBeCloseTo(s.requests_per_s * 3, 0);
    expect(s.latency_ms.p50).toBeGreaterThan(0);
    expect(s.latency_ms.p50).toBeLessThanOrEqual(s.latency_ms.p99);
    expect(s.latency_ms.p99).toBeLessThanOrEqual(s.latency_ms.max);
  });

  it('--cached sends the same traces, which the service then serves from its cache', async () => {
    const res = await runCli(['bench', '--url', url, '-n', '4', '-c', '1', '-k', '2', '--cached', '--json']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).cached_token_fraction).toBeGreaterThan(0);
  });

  it('prints a readable summary', async () => {
    const res = await runCli(['bench', '--url', url, '-n', '2', '-c', '1', '-k', '1', '--model', 'tiny-logits']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^model tiny-logits: 2 requests × 1 traces × 4 steps, concurrency 1/);
    expect(res.stdout).toMatch(/latency ms: p50 [\d.]+ {2}p90 [\d.]+ {2}p99 [\d.]+/);
  });
});

describe('prm --help', () => {
  it('lists the commands, and every command explains itself', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    for (const name of ['serve', 'score', 'rerank', 'bench']) {
      expect(top.stdout).toContain(`  ${name}`);
      const res = await runCli([name, '--help']);
      expect(res.code).toBe(0);
      expect(res.stdout).toContain(`Usage: prm ${name}`);
      expect(res.stdout).toContain('-h, --help');
    }
  });

  it('rejects an unknown command or option with exit status 2', async () => {
    const cmd = await runCli(['scroe']);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toContain("unknown command 'scroe'");
    const opt = await runCli(['bench', '--requests', 'many']);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toContain("--requests must be an integer ≥ 1, got 'many'");
  });
});

// Last, because the tests above use this server.
describe('prm serve shutdown', () => {
  it('exits 0 on SIGTERM', async () => {
    serve.child.kill('SIGTERM');
    const res = await serve.done;
    expect(res.code).toBe(0);
    await expect(fetch(`${url}/health/live`)).rejects.toThrow();
  });
});
