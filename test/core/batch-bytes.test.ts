/**
 * MAX_BATCH_BYTES in the scoring service, on the tiny logits bundle: with room for 48 padded
 * tokens' outputs a pass holds one of these ~30-token rows at a time, where the token budget alone
 * batches them together; the rewards are the same either way.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { passBytesPerToken } from '../../src/batching/token-budget.js';
import type { LoadingScoringService } from '../../src/core/scoring-service.js';
import { testScoringService } from '../harness/app.js';
import { metrics } from '../../src/metrics.js';

const BUNDLES = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bundles');
const manifest = JSON.parse(readFileSync(join(BUNDLES, 'tiny-logits', 'prm.json'), 'utf8'));
const PER_TOKEN = passBytesPerToken([manifest.policy, manifest.reference]);
const ITEMS = Array.from({ length: 8 }, (_, i) => ({ id: `i${i}`, prompt: `${10 + i}+27-19`, steps: [`${10 + i}+27=${37 + i}`, `${37 + i}-19=${18 + i}`, `Answer: ${18 + i}`] }));

const services: LoadingScoringService[] = [];
afterAll(async () => {
  for (const s of services) await s.close();
});

/** Rows per pass observed while scoring ITEMS in one request. */
async function rowsPerPass(maxBatchBytes: number): Promise<{ rows: number[]; rewards: number[][] }> {
  const service = testScoringService({
    MODELS_DIR: BUNDLES, DEFAULT_MODEL: 'tiny-logits',
    MAX_BATCH_TOKENS: '2048', MAX_BATCH_BYTES: String(maxBatchBytes), MAX_BATCH_WAIT_MS: '20', MAX_QUEUE_ROWS: '4096',
  });
  services.push(service);
  await service.whenLoaded();
  const before = (await metrics.batchRows.get()).values.filter((v) => v.metricName === 'prm_batch_rows_bucket').map((v) => v.value);
  const res = await service.score('tiny-logits', ITEMS, {});
  const after = (await metrics.batchRows.get()).values.filter((v) => v.metricName === 'prm_batch_rows_bucket').map((v) => v.value);
  return { rows: after.map((v, i) => v - before[i]!), rewards: res.results.map((r) => r.steps.map((s) => s.reward)) };
}

describe('MAX_BATCH_BYTES', () => {
  it('bounds a pass by the bytes of its outputs, not only by its tokens', async () => {
    const tight = await rowsPerPass(48 * PER_TOKEN);
    const loose = await rowsPerPass(512 << 20);
    // Cumulative bucket counts: le=1 is the first. Under 48 tokens' bytes every pass has one row.
    expect(tight.rows[0]).toBeGreaterThan(0);
    expect(tight.rows[0]).toBe(tight.rows[tight.rows.length - 1]);
    expect(loose.rows[0]).toBeLessThan(loose.rows[loose.rows.length - 1]!);
    tight.rewards.forEach((steps, i) => steps.forEach((r, k) => expect(Math.abs(r - loose.rewards[i]![k]!)).toBeLessThan(1e-5)));
  });
});
