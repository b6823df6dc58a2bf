/**
 * prepareItems gives the event loop back while it tokenizes a large request, and a request whose
 * signal fires meanwhile stops there instead of tokenizing the rest.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle, type LoadedBundle } from '../../src/bundle/load-bundle.js';
import { prepareItems } from '../../src/core/prepare-items.js';
import { silentLogger } from '../../src/logger.js';
import { BUNDLES_DIR } from '../harness/server-process.js';

let bundle: LoadedBundle;
beforeAll(async () => {
  bundle = await loadBundle(join(BUNDLES_DIR, 'tiny-logprobs'), { device: 'cpu', engineThreads: 'main', intraOpThreads: 1, logger: silentLogger });
});
afterAll(() => bundle?.dispose());

// Distinct texts (no memo hits): enough work for many 10 ms slices.
const items = Array.from({ length: 3000 }, (_, i) => ({ prompt: `${i}+${i % 97}`, steps: Array.from({ length: 8 }, (_, k) => `${i}*${k}=${i * k}`) }));

describe('prepareItems', () => {
  it('lets timers run while it tokenizes, and stops when its signal fires', async () => {
    const controller = new AbortController();
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
      if (ticks === 2) controller.abort(new Error('deadline'));
    }, 1);
    try {
      await expect(prepareItems(bundle.segmenter, items, { signal: controller.signal })).rejects.toThrow();
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThanOrEqual(2);
  });

  it('tokenizes everything when nothing stops it', async () => {
    const prepared = await prepareItems(bundle.segmenter, items.slice(0, 50));
    expect(prepared).toHaveLength(50);
    expect(prepared[3]!.segments).toHaveLength(9);
  });
});
