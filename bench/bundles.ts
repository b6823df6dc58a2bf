/**
 * The bundles the bench serves, each in a models folder of its own under bench/work/ (a server
 * given MODELS_DIR loads every bundle there, and the bench wants exactly one per server).
 *
 * - arith-tiny: copied from models/arith-tiny; until that bundle exists, from the test bundle
 *   with the same tokenizer (test/fixtures/bundles/tiny-logprobs), and the report says so.
 * - random-30m: a randomly initialised bundle the trainer exports for benchmarking; generated on
 *   first use and reused while its size setting is unchanged (it is not committed).
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelKey } from './args.js';
import { exportRandomBundle } from './torch-side.js';

export interface PreparedBundle {
  key: ModelKey;
  /** Folder given to the server as MODELS_DIR (holds only `bundleDir`). */
  modelsDir: string;
  /** The bundle folder itself (what the PyTorch scorer loads). */
  bundleDir: string;
  source: string;
  note: string | null;
  exportSeconds: number | null;
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
      note: useTrained ? null : 'models/arith-tiny not present: measured on test/fixtures/bundles/tiny-logprobs (same tokenizer, untrained)',
      exportSeconds: null,
    };
  }
  // prompt (~60 tokens) + the longest rl trace (600 response tokens) must fit
  const maxSequence = 1024;
  // The export form is part of the setting: a bundle cached by an older exporter is exported again.
  const setting = `${randomParams} ${maxSequence} fused-attention new-kv`;
  const marker = join(modelsDir, '.params');
  const current = existsSync(marker) ? readFileSync(marker, 'utf8').trim() : null;
  if (current === setting && existsSync(join(bundleDir, 'prm.json'))) {
    return { key, modelsDir, bundleDir, source: `trainer export-random --params ${randomParams} (reused)`, note: null, exportSeconds: null };
  }
  rmSync(modelsDir, { recursive: true, force: true });
  mkdirSync(modelsDir, { recursive: true });
  const exportSeconds = await exportRandomBundle(repoRoot, randomParams, maxSequence, bundleDir, threads);
  writeFileSync(marker, `${setting}\n`);
  return { key, modelsDir, bundleDir, source: `trainer export-random --params ${randomParams}`, note: null, exportSeconds };
}
