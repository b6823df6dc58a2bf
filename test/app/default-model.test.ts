/**
 * The bundled default model (models/arith-tiny) as a step checker, on the worked examples users
 * meet first (the playground's list, the README's pair): served by the real service, a right
 * solution outranks the wrong one of the same problem by min step reward, the wrong step is the
 * one whose reward is lowest, and the error-finding rule of the model's report (the first step
 * with σ(q_k) below the threshold tuned on validation, recorded in prm.json) flags exactly the
 * wrong step and nothing in a right solution. The expected steps come from the domain's rule
 * (trainer/README.md), not from the model.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrmClient } from '../../src/client/index.js';
import { startLiveServer, type TestApp } from '../harness/app.js';

interface Example {
  name: string;
  prompt: string;
  steps: string[];
}
// The playground's own module (plain JavaScript served to the browser).
const EXAMPLES_MODULE: string = new URL('../../src/playground/static/examples.js', import.meta.url).href;
const { EXAMPLES } = (await import(EXAMPLES_MODULE)) as { EXAMPLES: Example[] };

const MODELS_DIR = new URL('../../models', import.meta.url).pathname;
const MANIFEST = JSON.parse(readFileSync(`${MODELS_DIR}/arith-tiny/prm.json`, 'utf8')) as {
  provenance: { metrics: { threshold: number } };
};
const THRESHOLD = MANIFEST.provenance.metrics.threshold;

/** 0-based index of each example's first wrong step (-1: right), by the checker's rule. */
const FIRST_WRONG: Record<string, number> = {
  'Correct: 48+27-39*2': -1,
  'Borrow mistake: 48+27-39*2': 1, // 75-39 is 36, not 44
  'Forgotten carry: 58+36-40': 0, // 58+36 is 94, not 84
  'Multiplication carry: 13*4+25': 0, // 13*4 is 52, not 42
  'Correct, longer: 36+45-18+19-50': -1,
  'README a: 63-28+15': -1,
  'README b: 63-28+15': 0, // 63-28 is 35, not 45
};
const CASES: Example[] = [
  ...EXAMPLES,
  { name: 'README a: 63-28+15', prompt: '63-28+15', steps: ['63-28=35', '35+15=50', 'Answer: 50'] },
  { name: 'README b: 63-28+15', prompt: '63-28+15', steps: ['63-28=45', '45+15=60', 'Answer: 60'] },
];

let server: TestApp;
let scored: Map<string, { score: number; rewards: number[]; values: number[] }>;
beforeAll(async () => {
  server = await startLiveServer({ MODELS_DIR, DEFAULT_MODEL: 'arith-tiny' });
  const res = await new PrmClient({ baseUrl: server.url }).score(
    CASES.map((c) => ({ id: c.name, prompt: c.prompt, steps: c.steps })),
    { aggregate: 'min' },
  );
  expect(res.model.name).toBe('arith-tiny');
  scored = new Map(res.results.map((r) => [r.id!, { score: r.score, rewards: r.steps.map((s) => s.reward), values: r.steps.map((s) => s.value) }]));
}, 60_000);
afterAll(() => server?.close());

describe('the default model on the worked examples', () => {
  it('covers every playground example', () => {
    expect(Object.keys(FIRST_WRONG)).toEqual(expect.arrayContaining(EXAMPLES.map((e) => e.name)));
  });

  for (const [right, wrong] of [
    ['Correct: 48+27-39*2', 'Borrow mistake: 48+27-39*2'],
    ['README a: 63-28+15', 'README b: 63-28+15'],
  ] as const) {
    it(`ranks "${right}" above "${wrong}" by min step reward`, () => {
      expect(scored.get(right)!.score).toBeGreaterThan(scored.get(wrong)!.score);
    });
  }

  for (const c of CASES) {
    const first = FIRST_WRONG[c.name]!;
    it(`${c.name}: the first step below the threshold is ${first < 0 ? 'none' : `step ${first + 1}`}`, () => {
      const { values, rewards } = scored.get(c.name)!;
      expect(values.findIndex((v) => v < THRESHOLD)).toBe(first);
      if (first >= 0) expect(rewards.indexOf(Math.min(...rewards))).toBe(first);
    });
  }
});
