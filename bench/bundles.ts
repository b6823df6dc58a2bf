/**
 * The bundles the bench serves, each in a models folder of its own under bench/work/ (a server
 * given MODELS_DIR loads every bundle there, and the bench wants exactly one per server).
 *
 * - arith-tiny: copied from models/arith-tiny; until that bundle exists, from the test bundle
 *   with the same tokenizer (test/fixtures/bundles/tiny-logprobs), and the report says so.
 * - random-30m: randomly initialised transformers checkpoints (Llama, grouped-query attention)
 *   imported by the trainer's `import`, the path a user's own models take; made on first use and
 *   reused while its setting is unchanged (not committed). The PyTorch side scores the original
 *   checkpoints with transformers (`checkpoints`).
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelKey } from './args.js';
import { importRandomBundle, type HfCheckpoints } from './torch-side.js';

export interface PreparedBundle {
  key: ModelKey;
  /** Folder given to the server as MODELS_DIR (holds only `bundleDir`). */
  modelsDir: string;
  /** The bundle folder itself (what the PyTorch scorer loads). */
  bundleDir: string;
  source: string;
  note: string | null;
  exportSeconds: number | null;
  /** The transformers checkpoints the bundle was imported from (scored by `score-hf`); null: a bundle of the trainer's own GPT (the test fixture). */
  checkpoints: HfCheckpoints | null;
}

export async function prepareBundle(key: ModelKey, repoRoot: string, workDir: string, threads: number, randomParams: string): Promise<PreparedBundle> {
  const modelsDir = join(workDir, 'models', key);
  const bundleDir = join(modelsDir, key);
  if (key === 'arith-tiny') {
    const trained = join(repoRoot, 'models', 'arith-tiny');
    const fallback = join(repoRoot, 'test', 'fixtures', 'bundles', 'tiny-logprobs');
    const useTrained = existsSync(join(trained, 'prm.json'));
    const source = useTrained ? trained : fallback;
    rmSync(modelsDir, { recursive: true, force: true });
    mkdirSync(modelsDir, { recursive: true });
    cpSync(source, bundleDir, { recursive: true });
    return {
      key,
      modelsDir,
      bundleDir,
      source,
      note: useTrained ? null : 'models/arith-tiny not present: measured on test/fixtures/bundles/tiny-logprobs (an untrained GPT of the trainer, character tokenizer)',
      exportSeconds: null,
      checkpoints: useTrained
        ? { policy: join(trained, 'transformers', 'policy'), reference: join(trained, 'transformers', 'reference') }
        : null,
    };
  }
  // prompt (~60 tokens) + the longest rl trace (600 response tokens) must fit
  const maxSequence = 1024;
  // The way it is made is part of the setting: a bundle made another way is made again.
  const setting = `${randomParams} ${maxSequence} random-hf llama import`;
  const marker = join(modelsDir, '.params');
  // Outside modelsDir: the server would take any folder there for a bundle.
  const hf = join(workDir, 'checkpoints', key);
  const checkpoints = { policy: join(hf, 'policy'), reference: join(hf, 'reference') };
  const current = existsSync(marker) ? readFileSync(marker, 'utf8').trim() : null;
  if (current === setting && existsSync(join(bundleDir, 'prm.json'))) {
    return { key, modelsDir, bundleDir, source: `trainer random-hf --params ${randomParams} + import (reused)`, note: null, exportSeconds: null, checkpoints };
  }
  rmSync(modelsDir, { recursive: true, force: true });
  rmSync(hf, { recursive: true, force: true });
  mkdirSync(modelsDir, { recursive: true });
  const made = await importRandomBundle(repoRoot, randomParams, maxSequence, bundleDir, hf, threads);
  writeFileSync(marker, `${setting}\n`);
  return { key, modelsDir, bundleDir, source: `trainer random-hf --params ${randomParams} + import`, note: null, exportSeconds: made.seconds, checkpoints: made.checkpoints };
}
