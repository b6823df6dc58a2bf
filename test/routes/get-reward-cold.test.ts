/**
 * A fresh server answers a lone large /get_reward batch: the engine's pace, which admission uses
 * to refuse what cannot finish in time, is learnt from batches that drain a backlog, not from the
 * first small passes of a cold engine (a batch whose samples share one prompt starts with a pass
 * of that prompt alone). Measured from those, a lone batch looked like seconds of backlog and was
 * refused as OVERLOADED.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLoadedApp, type TestApp } from '../harness/app.js';

describe('/get_reward on a fresh server', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildLoadedApp({ REQUEST_TIMEOUT_MS: '3000', MAX_ITEMS_PER_REQUEST: '64' });
  });
  afterAll(() => t?.close());

  it('scores a lone batch of 4 096 samples that share their prompt', async () => {
    const query = Array.from({ length: 4096 }, () => '12+7\n12+7=19\nAnswer: 19');
    const res = await t.app.inject({ method: 'POST', url: '/get_reward', payload: { query } });
    expect(res.statusCode, res.body).toBe(200);
    const { rewards, errors } = res.json() as { rewards: number[]; errors: unknown[] };
    expect(rewards).toHaveLength(4096);
    // One trace 4 096 times: the same reward, up to the last bits of float32 log-probs computed in
    // batches of other shapes (rows of one chunk can be split between passes).
    const spread = Math.max(...rewards) - Math.min(...rewards);
    expect(spread, `distinct rewards: ${[...new Set(rewards)].join(', ')}`).toBeLessThan(1e-5);
    expect(errors.every((e) => e === null)).toBe(true);
  });
});
