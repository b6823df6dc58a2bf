/**
 * `prm score` against a live service with the tiny test bundles: results equal the API's, bad
 * lines become error lines without stopping the run, an interrupted run resumes to exactly one
 * result per id, and failures that would hit every line stop the run at once.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrmClient } from '../../src/client/index.js';
import { startLiveServer, type TestApp as LiveServer } from '../harness/app.js';
import { jsonLines, runCli, startCli, tempDir, until } from './run-cli.js';

let server: LiveServer;
let client: PrmClient;
beforeAll(async () => {
  server = await startLiveServer();
  client = new PrmClient({ baseUrl: server.url });
});
afterAll(() => server?.close());

/** A correct arithmetic trace for problem number i. */
function trace(i: number) {
  const a = 10 + (i % 80);
  const b = 3 + (i % 7);
  return { prompt: `${a}+${b}*2`, steps: [`${a}+${b}=${a + b}`, `${a + b}*2=${(a + b) * 2}`, `Answer: ${(a + b) * 2}`] };
}

const expectSameResult = (got: Record<string, unknown>, want: { score: number; outcome_reward: number; steps: { reward: number; q: number; value: number; tokens: number }[] }) => {
  expect(got.score as number).toBeCloseTo(want.score, 6);
  expect(got.outcome_reward as number).toBeCloseTo(want.outcome_reward, 6);
  const steps = got.steps as typeof want.steps;
  expect(steps.map((s) => s.tokens)).toEqual(want.steps.map((s) => s.tokens));
  steps.forEach((s, k) => {
    expect(s.reward).toBeCloseTo(want.steps[k]!.reward, 6);
    expect(s.q).toBeCloseTo(want.steps[k]!.q, 6);
    expect(s.value).toBeCloseTo(want.steps[k]!.value, 6);
  });
};

describe('prm score', () => {
  it('writes the API result for every line and an error line for each bad one', async () => {
    const good: { id?: string | number; prompt: string; steps?: string[]; response?: string }[] = [
      { id: 'a', ...trace(1) },
      { id: 'b', prompt: '48+27-39*2', response: '48+27=75\n75-39=44\n44*2=88\nAnswer: 88' },
      { id: 70, ...trace(2) }, // numeric ids are kept, as strings
      trace(3), // no id: the line number
      { id: 'c', ...trace(4) },
      { id: 'd', ...trace(5) },
    ];
    const lines = [
      ...good.map((g) => JSON.stringify(g)),
      '{"id": "broken", ', // line 7
      JSON.stringify({ id: 'no-prompt', steps: ['1+1=2'] }),
      JSON.stringify({ id: 'empty-step', prompt: '1+1', steps: ['1+1=2', ''] }),
      JSON.stringify({ id: 'too-long', prompt: '1+'.repeat(200) + '1', steps: ['x'] }),
      '',
      JSON.stringify({ id: 'e', ...trace(6) }),
    ];
    const dir = tempDir();
    writeFileSync(join(dir, 'in.jsonl'), lines.join('\n') + '\n');
    const res = await runCli(['score', join(dir, 'in.jsonl'), '--url', server.url, '-b', '3', '-c', '2', '--model', 'tiny-logits']);

    expect(res.code).toBe(1);
    const out = jsonLines(res.stdout);
    const byId = new Map(out.map((r) => [r.id as string, r]));
    expect(out).toHaveLength(11);
    // The line without an id and the line that is not JSON get their line numbers.
    expect([...byId.keys()].sort()).toEqual(['4', '7', '70', 'a', 'b', 'c', 'd', 'e', 'empty-step', 'no-prompt', 'too-long']);

    const wantItems = [...good, { id: 'e', ...trace(6) }].map((g, i) => ({ ...g, id: g.id === undefined ? String(i + 1) : String(g.id) }));
    const want = await client.score(wantItems as never, { model: 'tiny-logits' });
    for (const w of want.results) expectSameResult(byId.get(w.id)!, w);

    expect(out.find((r) => r.line === 7)).toMatchObject({ id: '7', error: { code: 'INVALID_JSON' } });
    expect(byId.get('no-prompt')).toMatchObject({ line: 8, error: { code: 'INVALID_REQUEST' } });
    expect(byId.get('empty-step')).toMatchObject({ line: 9, error: { code: 'EMPTY_STEP' } });
    expect(byId.get('too-long')).toMatchObject({ line: 10, error: { code: 'SEQUENCE_TOO_LONG' } });
    expect(res.stderr).toContain('line 9 (id empty-step): EMPTY_STEP');
    expect(res.stderr).toMatch(/7 done, 4 failed/);
  });

  it('passes options through: aggregate, token rewards, beta', async () => {
    const input = JSON.stringify({ id: 'x', ...trace(9) }) + '\n';
    const res = await runCli(['score', '-', '--url', server.url, '--aggregate', 'sum', '--token-rewards', '--beta', '0.5'], { input });
    expect(res.code).toBe(0);
    const [got] = jsonLines(res.stdout) as [{ score: number; outcome_reward: number; token_rewards: number[][]; steps: { tokens: number }[] }];
    const want = (await client.score([trace(9)], { aggregate: 'sum', beta: 0.5, token_rewards: true })).results[0]!;
    expect(got.score).toBeCloseTo(got.outcome_reward, 9); // sum of step rewards = q_n
    expect(got.outcome_reward).toBeCloseTo(want.outcome_reward, 6);
    expect(got.token_rewards.map((t) => t.length)).toEqual(got.steps.map((s) => s.tokens));
  });

  it('resumes an interrupted run: every id exactly once, failed lines retried', async () => {
    const dir = tempDir();
    const input = join(dir, 'in.jsonl');
    const out = join(dir, 'out.jsonl');
    const n = 400;
    writeFileSync(input, Array.from({ length: n }, (_, i) => JSON.stringify({ id: `t${i}`, ...trace(i) })).join('\n') + '\n');
    const args = ['score', input, '--out', out, '--url', server.url, '-b', '1', '-c', '1'];

    const first = startCli(args);
    const written = () => {
      try {
        return readFileSync(out, 'utf8').split('\n').length - 1;
      } catch {
        return 0;
      }
    };
    await until(() => written() >= 10);
    first.child.kill('SIGINT');
    const r1 = await first.done;
    expect(r1.code).toBe(130);
    expect(r1.stderr).toContain('run the same command again to resume');
    const partial = jsonLines(readFileSync(out, 'utf8'));
    expect(partial.length).toBeGreaterThanOrEqual(10);
    expect(partial.length).toBeLessThan(n);

    // A crash can leave a failed line and a line cut short; both are redone, not kept.
    const failedId = `t${n - 1}`;
    appendFileSync(out, JSON.stringify({ id: failedId, line: n, error: { code: 'OVERLOADED', message: 'x' } }) + '\n{"id":"t3","sco');

    const r2 = await runCli(args);
    expect(r2.code).toBe(0);
    expect(r2.stderr).toContain(`${partial.length} already in ${out}`);
    expect(r2.stderr).toContain('retrying 2 failed or incomplete lines');
    const all = jsonLines(readFileSync(out, 'utf8'));
    expect(all).toHaveLength(n);
    expect(new Set(all.map((r) => r.id)).size).toBe(n);
    expect(all.every((r) => !('error' in r))).toBe(true);
    expect(all.find((r) => r.id === failedId)).toHaveProperty('score');

    // Finished: a third run has nothing left to do.
    const r3 = await runCli(args);
    expect(r3.code).toBe(0);
    expect(r3.stderr).toContain(`0 done, 0 failed, ${n} already in`);
  });

  it('--resume skips ids finished in another file and writes the rest to stdout', async () => {
    const dir = tempDir();
    const prev = join(dir, 'prev.jsonl');
    writeFileSync(prev, [JSON.stringify({ id: 'p0', score: 0 }), JSON.stringify({ id: 'p1', error: { code: 'X', message: 'y' } })].join('\n') + '\n');
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, ['p0', 'p1', 'p2'].map((id, i) => JSON.stringify({ id, ...trace(i) })).join('\n'));
    const res = await runCli(['score', input, '--resume', prev, '--url', server.url, '--progress']);
    expect(res.code).toBe(0);
    expect(jsonLines(res.stdout).map((r) => r.id).sort()).toEqual(['p1', 'p2']);
    expect(res.stderr).toContain(`retrying 1 failed or incomplete lines from ${prev}`);
    expect(res.stderr).toContain('[##############################] 3/3 100%'); // the forced progress bar, full
  });

  it('stops at once, exit 2, when nothing could succeed', async () => {
    const input = JSON.stringify(trace(1)) + '\n';
    const down = await runCli(['score', '--url', 'http://127.0.0.1:9'], { input });
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('cannot reach the service at http://127.0.0.1:9');
    const unknown = await runCli(['score', '--url', server.url, '--model', 'nope'], { input });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown model 'nope'; loaded models: tiny-logits, tiny-logprobs, tiny-logprobs-fused, tiny-ref-free");
    const usage = await runCli(['score', '--concurrency', '0'], { input });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("Run 'prm score --help' for usage.");
  });
});
