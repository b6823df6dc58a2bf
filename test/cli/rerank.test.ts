/**
 * `prm rerank` against a live service: the chosen candidate is the argmax of the API's scores
 * under the chosen aggregate, rejected candidates are reported without sinking their group, and
 * a group with no scorable candidate becomes an error line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrmClient, type Aggregate, type ScoreItem } from '../../src/client/index.js';
import { startLiveServer, type TestApp as LiveServer } from '../harness/app.js';
import { jsonLines, runCli, tempDir } from './run-cli.js';

let server: LiveServer;
let client: PrmClient;
beforeAll(async () => {
  server = await startLiveServer();
  client = new PrmClient({ baseUrl: server.url });
});
afterAll(() => server?.close());

const GROUPS = [
  {
    id: 'g1',
    prompt: '48+27-39*2',
    candidates: [
      ['48+27=75', '75-39=36', '36*2=72', 'Answer: 72'],
      ['48+27=75', '75-39=44', '44*2=88', 'Answer: 88'],
      '48+27=65\n65-39=26\n26*2=52\nAnswer: 52',
      ['48+27=75', '75-39=36', 'Answer: 36'],
    ],
  },
  { id: 'g2', prompt: '58+36-40', candidates: ['58+36=94\n94-40=54\nAnswer: 54', '58+36=84\n84-40=44\nAnswer: 44'] },
  { id: 'g3', prompt: '13*4+25', candidates: [['13*4=52', '52+25=77', 'Answer: 77'], ['13*4=42', '', 'Answer: 67'], ['13*4=42', '42+25=67', 'Answer: 67']] },
  { id: 'g4', prompt: '1+1', candidates: [['1+1=2', '']] },
];

async function apiScores(group: (typeof GROUPS)[number], aggregate: Aggregate): Promise<(number | null)[]> {
  const out: (number | null)[] = [];
  for (const c of group.candidates) {
    const item: ScoreItem = Array.isArray(c) ? { prompt: group.prompt, steps: c } : { prompt: group.prompt, response: c };
    try {
      out.push((await client.score([item], { aggregate })).results[0]!.score);
    } catch {
      out.push(null);
    }
  }
  return out;
}

const argmax = (xs: (number | null)[]) => xs.reduce<number>((best, x, i) => (x !== null && (best < 0 || x > xs[best]!) ? i : best), -1);

describe('prm rerank', () => {
  for (const aggregate of ['min', 'last'] as const) {
    it(`picks the best candidate by ${aggregate}`, async () => {
      const dir = tempDir();
      writeFileSync(join(dir, 'groups.jsonl'), GROUPS.map((g) => JSON.stringify(g)).join('\n'));
      const res = await runCli(['rerank', join(dir, 'groups.jsonl'), '--url', server.url, '--aggregate', aggregate, '-b', '2']);
      expect(res.code).toBe(1); // g4 cannot be ranked
      const byId = new Map(jsonLines(res.stdout).map((r) => [r.id, r]));
      expect(byId.size).toBe(4);

      for (const group of GROUPS.slice(0, 3)) {
        const want = await apiScores(group, aggregate);
        const got = byId.get(group.id)!;
        expect(got.aggregate).toBe(aggregate);
        (got.scores as (number | null)[]).forEach((s, i) => {
          if (want[i] === null) expect(s).toBeNull();
          else expect(s).toBeCloseTo(want[i]!, 6);
        });
        expect(got.best).toBe(argmax(want));
        expect(got.best_score).toBeCloseTo(want[argmax(want)]!, 6);
        expect(got.best_candidate).toEqual(group.candidates[argmax(want)]);
        expect((got.step_rewards as unknown[]).length).toBe(group.candidates.length);
      }
      // The empty step in g3's second candidate is reported, and the group still ranked.
      expect(byId.get('g3')!.errors).toEqual([{ index: 1, code: 'EMPTY_STEP', message: expect.any(String) }]);
      expect(byId.get('g4')).toMatchObject({ line: 4, error: { code: 'EMPTY_STEP' } });
      expect(res.stderr).toContain('line 4 (id g4): EMPTY_STEP: no candidate could be scored');
    });
  }

  it('rejects a line without candidates and explains --help', async () => {
    const res = await runCli(['rerank', '--url', server.url], { input: JSON.stringify({ id: 'x', prompt: 'p', candidates: [] }) });
    expect(res.code).toBe(1);
    expect(jsonLines(res.stdout)).toEqual([
      { id: 'x', line: 1, error: { code: 'INVALID_REQUEST', message: "'candidates' must be a non-empty list of responses (strings) or step lists" } },
    ]);
    const help = await runCli(['rerank', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: prm rerank [INPUT] [options]');
    expect(help.stdout).toContain('--aggregate AGG');
  });
});
