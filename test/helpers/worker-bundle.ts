/**
 * The tiny-logprobs test bundle with its policy and reference each in a worker thread, for tests
 * of the key/values those threads hold, and what they hold, read from the threads themselves.
 */
import { join } from 'node:path';
import { loadBundle, type LoadedBundle } from '../../src/bundle/load-bundle.js';
import { silentLogger } from '../../src/logger.js';
import type { WorkerLogprobModel } from '../../src/engine/worker-model.js';
import { BUNDLES_DIR } from '../harness/server-process.js';

export function openWorkerBundle(): Promise<LoadedBundle> {
  return loadBundle(join(BUNDLES_DIR, 'tiny-logprobs'), { device: 'cpu', intraOpThreads: 1, logger: silentLogger, engineThreads: 'worker' });
}

/** KV handles held now by the policy's and the reference's worker threads. */
export async function heldKvHandles(bundle: LoadedBundle): Promise<number[]> {
  const models = [bundle.policy, bundle.reference!] as WorkerLogprobModel[];
  return Promise.all(models.map(async (m) => (await m.heldKv()).handles));
}
