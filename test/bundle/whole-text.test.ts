/**
 * The model's own token ids: bundles imported from tiny transformers models with real published
 * tokenizers — Llama-2's SentencePiece (where tokenizing each step on its own would give every step
 * a leading "▁") and Qwen's byte-level BPE with its chat template (steps that begin with a line
 * break merge with the separator), the latter also as a 151 669-token `logits` graph — served over
 * HTTP. The ids of each step and the step rewards
 * equal the reference scorer on the original checkpoints with transformers' tokenizer (whole-text
 * tokenization, boundaries by prefix tokenization, log_softmax + gather, cumulative sums at the step
 * ends) within 1e-4; cached answers and extensions of partial traces give the same numbers.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLiveServer, type TestApp as LiveServer } from '../harness/app.js';
import { runPythonScript } from '../helpers/python-script.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const ITEMS = [
  { id: 'plain', prompt: 'What is 48+27-19?', steps: ['Step 1: 48+27=75', 'Step 2: 75-19=56', 'The answer is 56.'] },
  { id: 'newline-start', prompt: 'Add 3 and 4.', steps: ['First, 3 + 4 = 7.', '\nSo the sum is 7.', ' Done: 7'] },
  { id: 'control-text', prompt: 'Say </s> or <|im_end|>', steps: ['It is </s><|im_end|> text', 'nothing else'] },
];
/** The same traces under prompts no request used before: extended from partial traces below. */
const MOVED = ITEMS.map((it) => ({ ...it, id: `${it.id}-moved`, prompt: `${it.prompt} (again)` }));

const BUILD = `
import sys, json
sys.path[:0] = ["trainer", "trainer/tests"]
from hf_models import npm_tokenizer, save_model
from implicit_prm.hf_import import ModelSource, TextFormat, import_bundle
from implicit_prm.hf_scoring import score
work = sys.argv[1]
items = json.load(open(work + "/items.json"))
out = {}
for name, arch, chat in (("llama2", "llama", False), ("qwen3", "qwen2", True)):
    tok = npm_tokenizer(name)
    pol = save_model(f"{work}/{name}-policy", arch, tok, seed=0)
    ref = save_model(f"{work}/{name}-reference", arch, tok, seed=1)
    fmt = TextFormat(beta=0.5, step_separator="\\n\\n", prompt_template="Question: {prompt}\\nAnswer:\\n",
                     use_chat_template=chat, append_eos=True, max_sequence_length=128)
    man = import_bundle(ModelSource(pol), ModelSource(ref), f"{work}/models/{name}", name, fmt)
    out[name] = score(pol, ref, man, items)
    if name == "qwen3":
        # The same models as logits graphs: [B, S, 151 669] scores leave onnxruntime, the service
        # log-softmaxes them in its head graph, and MAX_BATCH_BYTES bounds the passes.
        import_bundle(ModelSource(pol), ModelSource(ref), f"{work}/models/qwen3-logits", "qwen3-logits", fmt, graph="logits")
        out["qwen3-logits"] = out[name]
json.dump(out, open(work + "/expected.json", "w"))
`;


interface Expected { id: string; q: number[]; step_rewards: number[]; segment_ids: number[][] }
type Scored = { id: string; steps: { reward: number; q: number; tokens: number }[]; cached_tokens: number };

let work = '';
let server: LiveServer;
let expected: Record<string, Expected[]>;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'prm-whole-text-'));
  writeFileSync(join(work, 'items.json'), JSON.stringify([...ITEMS, ...MOVED]));
  await runPythonScript(BUILD, [work]);
  expected = JSON.parse(readFileSync(join(work, 'expected.json'), 'utf8')) as Record<string, Expected[]>;
  server = await startLiveServer({ MODELS_DIR: join(work, 'models'), DEFAULT_MODEL: 'llama2' });
}, 300_000);

afterAll(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function score(model: string, items: object[], options: object = {}): Promise<Scored[]> {
  const res = await fetch(`${server.url}/v1/score`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, items, options }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { results: Scored[] }).results;
}

function expectLikeTransformers(model: string, results: Scored[], from = 0): void {
  results.forEach((r, i) => {
    const want = expected[model]![from + i]!;
    expect(r.steps.map((s) => s.tokens), `${model} ${r.id} tokens per step`).toEqual(want.segment_ids.slice(1).map((s) => s.length));
    r.steps.forEach((s, k) => {
      expect(Math.abs(s.reward - want.step_rewards[k]!), `${model} ${r.id} step ${k}`).toBeLessThan(1e-4);
      expect(Math.abs(s.q - want.q[k]!), `${model} ${r.id} q ${k}`).toBeLessThan(1e-4);
    });
  });
}

describe.each(['llama2', 'qwen3', 'qwen3-logits'])('%s bundle', (model) => {
  it('scores the ids of the whole text, cut at the step boundaries, as transformers does', async () => {
    expectLikeTransformers(model, await score(model, ITEMS));
  });

  it('gives the same numbers from the caches and when partial traces are extended', async () => {
    const first = await score(model, ITEMS);
    const again = await score(model, ITEMS);
    expect(again.map((r) => r.steps)).toEqual(first.map((r) => r.steps));
    await score(model, MOVED.map((it) => ({ ...it, steps: it.steps.slice(0, 2) })), { partial: true });
    const extended = await score(model, MOVED);
    // Some of each extension comes from the caches (at least the prompt), and the numbers are still
    // transformers': a prefix whose ids changed when the trace grew is recomputed, never reused.
    expect(extended.every((r) => r.cached_tokens > 0)).toBe(true);
    expectLikeTransformers(model, extended, ITEMS.length);
  });
});
