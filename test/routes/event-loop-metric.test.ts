/**
 * EVENT_LOOP_RESOLUTION_MS sets the tick of the event-loop delay monitor behind
 * prm_nodejs_eventloop_lag_max_seconds: at 1 ms an idle loop reads about 1 ms (at the default 10,
 * about 10), and a stall reads its own length to within a tick. Every scrape resets the monitor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, emptyModelsDir, type TestApp } from '../harness/app.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ MODELS_DIR: emptyModelsDir(), EVENT_LOOP_RESOLUTION_MS: '1' });
  // The first scrapes compile and allocate what later ones reuse: their own stalls are not idle.
  for (let i = 0; i < 3; i++) {
    await t.app.inject({ method: 'GET', url: '/metrics' });
    await sleep(20);
  }
});
afterAll(() => t.close());

/** The worst event-loop delay since the previous scrape, in ms. */
async function lagMaxMs(): Promise<number> {
  const res = await t.app.inject({ method: 'GET', url: '/metrics' });
  const m = /^prm_nodejs_eventloop_lag_max_seconds ([\d.e+-]+)$/m.exec(res.body);
  expect(m, 'prm_nodejs_eventloop_lag_max_seconds in /metrics').not.toBeNull();
  return Number(m![1]) * 1000;
}

function holdEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Busy: the loop is held as a synchronous request stage would hold it.
  }
}

/**
 * Readings of `attempts` windows. Test files run side by side on shared cores, and a window in
 * which this process waited for a core reads that wait too: the assertions take the best window,
 * which a 10 ms tick could never produce.
 */
async function readings(attempts: number, window: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < attempts; i++) {
    await lagMaxMs();
    await window();
    out.push(await lagMaxMs());
  }
  return out;
}

describe('the event-loop delay metric at a 1 ms tick', () => {
  it('an idle loop reads well under the default 10 ms tick', async () => {
    const idle = await readings(5, () => sleep(100));
    expect(Math.min(...idle)).toBeLessThan(6);
  });

  it('a 40 ms stall reads 40 ms and less than a default tick more', async () => {
    const stalled = await readings(5, async () => {
      await sleep(20);
      holdEventLoop(40);
      await sleep(20);
    });
    // Never less than the stall itself; at best within a few 1 ms ticks of it.
    expect(Math.min(...stalled)).toBeGreaterThanOrEqual(40);
    expect(Math.min(...stalled)).toBeLessThan(48);
  });
});
