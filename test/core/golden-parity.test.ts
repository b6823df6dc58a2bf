/**
 * Parity with the trainer's PyTorch golden fixtures (test/fixtures/golden/*.json): for every case,
 * the service produces the same token ids exactly, and log-probs, q and step rewards within 1e-4
 * of PyTorch (the service runs the exported ONNX graphs; the goldens come from the PyTorch model).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBundle, type LoadedBundle } from '../../src/bundle/load-bundle.js';
import { computeLogprobs } from '../../src/core/compute-logprobs.js';
import { prepareItems } from '../../src/core/prepare-items.js';
import type { LoadingScoringService } from '../../src/core/scoring-service.js';
import { testScoringService } from '../harness/app.js';
import { silentLogger } from '../../src/logger.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GOLDEN_DIR = join(ROOT, 'test', 'fixtures', 'golden');
const TOL = 1e-4;

interface GoldenCase {
  id: string;
  prompt: string;
  steps: string[];
  segment_ids: number[][];
  policy_logprobs: number[];
  reference_logprobs: number[] | null;
  q: number[];
  step_rewards: number[];
  outcome_reward: number;
}

interface Golden {
  bundle: string;
  bundle_dir: string;
  fingerprint: string;
  beta: number;
  cases: GoldenCase[];
}

const files = existsSync(GOLDEN_DIR) ? readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.json')).sort() : [];
const goldens = files.map((f) => ({ file: f, golden: JSON.parse(readFileSync(join(GOLDEN_DIR, f), 'utf8')) as Golden }));

function expectAllClose(actual: ArrayLike<number>, want: readonly number[], what: string): void {
  expect(actual.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    expect(Math.abs(actual[i] - want[i]), `${what}[${i}]: ${actual[i]} vs ${want[i]}`).toBeLessThan(TOL);
  }
}

const opened: { close(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(opened.map((o) => o.close()));
});

describe('golden fixtures', () => {
  it('exist (the parity suite must not pass vacuously)', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const { golden } of goldens) expect(golden.cases.length).toBeGreaterThan(0);
  });
});

describe.each(goldens)('parity with $file', ({ golden }) => {
  const dir = resolve(ROOT, golden.bundle_dir);
  const name = basename(dir);
  const items = golden.cases.map((c) => ({ id: c.id, prompt: c.prompt, steps: c.steps }));

  it('token ids, per-token log-probs (policy and reference) match PyTorch', async () => {
    const bundle: LoadedBundle = await loadBundle(dir, { device: 'cpu', intraOpThreads: 1, logger: silentLogger });
    opened.push({ close: () => bundle.dispose() });
    expect(bundle.fingerprint).toBe(golden.fingerprint);
    const prepared = await prepareItems(bundle.segmenter, items);
    prepared.forEach((p, i) => expect(p.segments, golden.cases[i].id).toEqual(golden.cases[i].segment_ids));
    const lps = await computeLogprobs(bundle.models, prepared);
    lps.forEach((lp, i) => {
      const c = golden.cases[i];
      expectAllClose(lp.policy, c.policy_logprobs, `${c.id} policy`);
      if (c.reference_logprobs === null) expect(lp.reference).toBeNull();
      else expectAllClose(lp.reference!, c.reference_logprobs, `${c.id} reference`);
    });
  });

  it('q, step rewards and outcome reward from the service match PyTorch', async () => {
    const service: LoadingScoringService = testScoringService({ MODELS_DIR: dirname(dir), DEFAULT_MODEL: name });
    opened.push(service);
    await service.whenLoaded();
    expect(service.readiness().models[name]).toBe('ready');
    const res = await service.score(name, items, { beta: golden.beta, aggregate: 'sum' });
    expect(res.model.fingerprint).toBe(golden.fingerprint);
    res.results.forEach((r, i) => {
      const c = golden.cases[i];
      expect(r.id).toBe(c.id);
      expectAllClose(r.steps.map((s) => s.q), c.q, `${c.id} q`);
      expectAllClose(r.steps.map((s) => s.reward), c.step_rewards, `${c.id} step_rewards`);
      expect(Math.abs(r.outcome_reward - c.outcome_reward)).toBeLessThan(TOL);
      expect(Math.abs(r.score - c.outcome_reward)).toBeLessThan(TOL);
    });
  });
});
