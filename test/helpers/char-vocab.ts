/**
 * Token ids of the tiny test bundles computed from their files alone: the tokenizer is
 * character-level (one id per character, tokenizer.json's vocab), the prompt goes through
 * prm.json's prompt_template, the steps are joined by its step_separator and the EOS ends the trace.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLES_DIR } from '../harness/bundles.js';

export interface CharBundle {
  vocab: Record<string, number>;
  idOf(text: string): number[];
  /** The trace as a token id item: what /v1/score scores for `{prompt, steps}`. */
  idItem(prompt: string, steps: readonly string[]): { prompt_ids: number[]; response_ids: number[]; step_ends: number[] };
  eosId: number;
  vocabSize: number;
}

export function charBundle(name: string): CharBundle {
  const dir = join(BUNDLES_DIR, name);
  const manifest = JSON.parse(readFileSync(join(dir, 'prm.json'), 'utf8'));
  const tokenizer = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  const vocab: Record<string, number> = tokenizer.model.vocab;
  const eosId = vocab['<eos>']!;
  const idOf = (text: string) => [...text].map((c) => {
    if (vocab[c] === undefined) throw new Error(`${JSON.stringify(c)} is not in the test vocabulary`);
    return vocab[c]!;
  });
  const idItem = (prompt: string, steps: readonly string[]) => {
    const stepIds = steps.map((s, k) => idOf(k < steps.length - 1 ? s + manifest.step_separator : s));
    stepIds[stepIds.length - 1]!.push(eosId);
    const ends: number[] = [];
    stepIds.reduce((n, ids) => (ends.push(n + ids.length), n + ids.length), 0);
    return { prompt_ids: idOf(manifest.prompt_template.replace('{prompt}', prompt)), response_ids: stepIds.flat(), step_ends: ends };
  };
  return { vocab, idOf, idItem, eosId, vocabSize: manifest.policy.vocab_size };
}
