/**
 * A bundle made by the trainer's `import` from tiny random transformers checkpoints (Qwen2:
 * grouped-query attention, QKV bias), served over HTTP: every step reward equals the reference
 * computed with transformers itself on the original checkpoints (`score-hf`: its forward,
 * log_softmax + gather, cumulative sums at the step ends) within 1e-4, and a repeated request
 * served from the caches gives the same numbers exactly. The same models imported with their
 * weights in external data files (the size threshold lowered) load and score alike.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLiveServer, type TestApp as LiveServer } from '../harness/app.js';
import { runPythonScript } from '../helpers/python-script.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const ITEMS = [
  { id: 'a', prompt: '48+27-19', steps: ['48+27=75', '75-19=56', 'Answer: 56'] },
  { id: 'b', prompt: '48+27-19', steps: ['48+27=65', '65-19=46', 'Answer: 46'] },
  { id: 'c', prompt: 'Step 1: x = 5', steps: ['Step 2: y = x + 1', 'The answer is 12.'] },
];
/** The same traces under prompts no request used before, for the KV-cache checks. */
const AGAIN = ITEMS.map((it) => ({ ...it, id: `${it.id}-again`, prompt: `${it.prompt} again` }));

/** Python building the checkpoints, importing them and scoring ITEMS with transformers. */
const BUILD = `
import sys, json
sys.path[:0] = ["trainer", "trainer/tests"]
from hf_models import byte_level_tokenizer, save_model
from implicit_prm.hf_import import ModelSource, TextFormat, import_bundle
from implicit_prm.hf_scoring import score
work = sys.argv[1]
tok = byte_level_tokenizer()
pol = save_model(work + "/hf-policy", "qwen2", tok, seed=0)
ref = save_model(work + "/hf-reference", "qwen2", tok, seed=1)
man = import_bundle(ModelSource(pol), ModelSource(ref), work + "/models/imported", "imported",
                    TextFormat(beta=0.5, step_separator="\\n", prompt_template="Problem: {prompt}\\nSolution:\\n", append_eos=True,
                               max_sequence_length=128))
import_bundle(ModelSource(pol), ModelSource(ref), work + "/models/imported-external", "imported-external",
              TextFormat(beta=0.5, step_separator="\\n", prompt_template="Problem: {prompt}\\nSolution:\\n", append_eos=True,
                         max_sequence_length=128), external_data_bytes=10_000)
import_bundle(ModelSource(pol), ModelSource(ref), work + "/models/imported-fp16", "imported-fp16",
              TextFormat(beta=0.5, step_separator="\\n", prompt_template="Problem: {prompt}\\nSolution:\\n", append_eos=True,
                         max_sequence_length=128), dtype="fp16")
import_bundle(ModelSource(pol), ModelSource(ref), work + "/models/imported-fp16-logits", "imported-fp16-logits",
              TextFormat(beta=0.5, step_separator="\\n", prompt_template="Problem: {prompt}\\nSolution:\\n", append_eos=True,
                         max_sequence_length=128), dtype="fp16", graph="logits")
items = json.load(open(work + "/items.json"))
json.dump(score(pol, ref, man, items), open(work + "/expected.json", "w"))
`;


interface Expected { id: string; q: number[]; step_rewards: number[]; outcome_reward: number; segment_ids: number[][] }

let work = '';
let server: LiveServer;
let expected: Expected[];
type Scored = { id: string; steps: { reward: number; q: number }[]; outcome_reward: number; cached_tokens: number };
let uncached: Scored[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'prm-imported-'));
  writeFileSync(join(work, 'items.json'), JSON.stringify([...ITEMS, ...AGAIN]));
  await runPythonScript(BUILD, [work]);
  expected = JSON.parse(readFileSync(join(work, 'expected.json'), 'utf8')) as Expected[];
  server = await startLiveServer({ MODELS_DIR: join(work, 'models'), DEFAULT_MODEL: 'imported' });
}, 180_000);

afterAll(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function scoreItems(model = 'imported', items: unknown[] = ITEMS): Promise<Scored[]> {
  const res = await fetch(`${server.url}/v1/score`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, items }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { results: Scored[] }).results;
}

describe('a bundle imported from transformers checkpoints', () => {
  it('serves the step rewards transformers computes on the original checkpoints', async () => {
    const results = await scoreItems();
    uncached = results;
    expect(results.map((r) => r.cached_tokens)).toEqual([0, 0, 0]);
    expect(results.map((r) => r.id)).toEqual(ITEMS.map((i) => i.id));
    let worst = 0;
    results.forEach((r, i) => {
      const want = expected[i]!;
      expect(r.steps).toHaveLength(want.step_rewards.length);
      r.steps.forEach((s, k) => {
        worst = Math.max(worst, Math.abs(s.reward - want.step_rewards[k]!), Math.abs(s.q - want.q[k]!));
      });
    });
    expect(worst).toBeLessThan(1e-4);
    // The rewards are not all alike: the right and the wrong solution differ.
    expect(Math.abs(results[0]!.steps[0]!.reward - results[1]!.steps[0]!.reward)).toBeGreaterThan(1e-3);
  });

  it('loads weights kept in external data files and scores alike', async () => {
    expect(existsSync(join(work, 'models/imported-external/policy.onnx_data'))).toBe(true);
    const external = await scoreItems('imported-external');
    external.forEach((r, i) => r.steps.forEach((s, k) => expect(Math.abs(s.reward - expected[i]!.step_rewards[k]!)).toBeLessThan(1e-4)));
  });

  it('serves a float16 import (float16 KV) within the float16 bound, from its KV cache too, in half the KV memory', async () => {
    // Per token the float16 graph's log-probs are within 1e-2 of transformers' float32 forward
    // (trainer/tests/test_hf_import.py, FP16_TOL); a step reward is β times a sum of
    // (policy − reference) over its tokens, so it may move by up to β · tokens · 2 · 1e-2.
    const bound = (i: number, k: number) => 0.5 * expected[i]!.segment_ids[k + 1]!.length * 2 * 1e-2;
    const check = (results: Scored[], from = 0) => results.forEach((r, i) => r.steps.forEach((s, k) => {
      expect(Math.abs(s.reward - expected[from + i]!.step_rewards[k]!), `${r.id} step ${k}`).toBeLessThan(bound(from + i, k));
    }));
    const kvBytes = async (model: string) => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const m = new RegExp(`^prm_engine_kv_bytes\\{model="${model}/policy.onnx"\\} (\\d+)`, 'm').exec(text);
      return Number(m?.[1] ?? NaN);
    };
    // The first two steps as a trace that goes on (its KV is kept), then the whole trace from it;
    // each model's KV bytes grow by what it keeps of these traces (prompts neither model saw yet).
    const partial = AGAIN.map((it) => ({ ...it, id: `${it.id}-partial`, steps: it.steps.slice(0, 2) }));
    const grew: Record<string, number> = {};
    for (const model of ['imported', 'imported-fp16']) {
      const before = await kvBytes(model);
      const res = await fetch(`${server.url}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, items: partial, options: { partial: true } }) });
      expect(res.status).toBe(200);
      grew[model] = (await kvBytes(model)) - before;
    }
    expect(grew.imported).toBeGreaterThan(0);
    expect(grew['imported-fp16']).toBe(grew.imported! / 2);
    const cold = await scoreItems('imported-fp16');
    check(cold);
    const extended = await scoreItems('imported-fp16', AGAIN);
    expect(extended.every((r) => r.cached_tokens > 0)).toBe(true);
    check(extended, ITEMS.length);
    const again = await scoreItems('imported-fp16', AGAIN);
    expect(again.map((r) => r.steps)).toEqual(extended.map((r) => r.steps));
    // float16 logits out of the graph (read as half-precision bits), log-softmaxed by the service.
    check(await scoreItems('imported-fp16-logits'));
  });

  it('gives the same numbers, exactly, from its caches', async () => {
    const again = await scoreItems();
    expect(again.every((r) => r.cached_tokens > 0)).toBe(true);
    expect(again.map((r) => [r.steps, r.outcome_reward])).toEqual(uncached.map((r) => [r.steps, r.outcome_reward]));
  });
});
