/**
 * /get_reward batches larger than one scoring chunk are worked on LARGE_BATCHES_AT_ONCE at a time,
 * in arrival order; a waiting batch leaves when its request's signal fires. The queue is checked
 * with works whose ends the test decides, and on a live server with a real client that gives up
 * while its batch waits behind a slow one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metrics } from '../../src/metrics.js';
import { LargeBatches } from '../../src/routes/large-batches.js';
import { startLiveServer, type TestApp } from '../harness/app.js';
import { trace } from '../helpers/traces.js';

const waitingGauge = async () => (await metrics.largeBatchesWaiting.get()).values[0]?.value ?? 0;
const clientClosed = async () => (await metrics.rejected.get()).values.find((v) => v.labels.reason === 'client_closed')?.value ?? 0;
const turn = () => new Promise((r) => setImmediate(r));

/** A batch's work in its turn, as the route runs it: enter, work, leave. */
async function run<T>(batches: LargeBatches, work: () => Promise<T>, signal = new AbortController().signal): Promise<T> {
  const leave = await batches.enter(signal);
  try {
    return await work();
  } finally {
    leave();
  }
}

/** A work that starts when its turn comes and ends when the test says. */
function controlled(log: string[], name: string) {
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  return {
    work: async () => {
      log.push(`start ${name}`);
      await ended;
      log.push(`end ${name}`);
      return name;
    },
    end: () => end(),
  };
}

describe('LargeBatches', () => {
  it('works on at most atOnce batches at a time and starts them in arrival order', async () => {
    const batches = new LargeBatches(2);
    const log: string[] = [];
    const works = ['a', 'b', 'c', 'd'].map((n) => controlled(log, n));
    const results = works.map((w) => run(batches, w.work));
    await turn();
    expect(log).toEqual(['start a', 'start b']);
    expect(await waitingGauge()).toBe(2);
    works[1]!.end();
    await turn();
    expect(log).toEqual(['start a', 'start b', 'end b', 'start c']);
    works[0]!.end();
    works[2]!.end();
    await turn();
    expect(log.slice(4)).toEqual(['end a', 'end c', 'start d']);
    works[3]!.end();
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd']);
    expect(await waitingGauge()).toBe(0);
  });

  it('a waiting batch whose signal fires leaves at once with its reason and never runs', async () => {
    const batches = new LargeBatches(1);
    const log: string[] = [];
    const [first, gone, next] = ['first', 'gone', 'next'].map((n) => controlled(log, n));
    const leaving = new AbortController();
    const runs = [run(batches, first!.work), run(batches, gone!.work, leaving.signal), run(batches, next!.work)];
    await turn();
    expect(await waitingGauge()).toBe(2);
    leaving.abort(new Error('deadline'));
    await expect(runs[1]).rejects.toThrow('deadline');
    expect(await waitingGauge()).toBe(1);
    first!.end();
    await turn();
    expect(log).toEqual(['start first', 'end first', 'start next']);
    next!.end();
    await Promise.all([runs[0], runs[2]]);
  });

  it('a batch already past its signal is refused without a turn; a failed work gives its turn up', async () => {
    const batches = new LargeBatches(1);
    const gone = new AbortController();
    gone.abort(new Error('client closed'));
    await expect(batches.enter(gone.signal)).rejects.toThrow('client closed');
    await expect(run(batches, async () => Promise.reject(new Error('scoring failed')))).rejects.toThrow('scoring failed');
    await expect(run(batches, async () => 'after')).resolves.toBe('after');
  });

  it('ending a turn twice frees one place, not two', async () => {
    const batches = new LargeBatches(1);
    const leave = await batches.enter(new AbortController().signal);
    const log: string[] = [];
    const [b, c] = ['b', 'c'].map((n) => controlled(log, n));
    const runs = [run(batches, b!.work), run(batches, c!.work)];
    leave();
    leave();
    await turn();
    expect(log).toEqual(['start b']);
    b!.end();
    c!.end();
    await Promise.all(runs);
  });
});

describe('/get_reward batches on a live server', () => {
  let t: TestApp;
  beforeAll(async () => {
    // One batch at a time, chunks of 8, no caches and small engine batches: a batch of 2 000 new
    // samples takes seconds.
    t = await startLiveServer({
      LARGE_BATCHES_AT_ONCE: '1', MAX_ITEMS_PER_REQUEST: '8', CACHE_MAX_BYTES: '0', KV_CACHE_MAX_BYTES: '0',
      MAX_BATCH_TOKENS: '128', MAX_BATCH_WAIT_MS: '0',
    });
  });
  afterAll(() => t?.close());

  const queries = (n: number, offset: number) => Array.from({ length: n }, (_, i) => {
    const { prompt, steps } = trace(offset + i, 3);
    return `${prompt}\n${steps.join('\n')}`;
  });
  const post = (query: string[], opts: { signal?: AbortSignal; path?: string } = {}) =>
    fetch(`${t.url}${opts.path ?? '/get_reward'}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }), signal: opts.signal });
  const until = async (what: string, ok: () => Promise<boolean>) => {
    for (let i = 0; i < 1000; i++) {
      if (await ok()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`timed out waiting until ${what}`);
  };

  /** A batch of 2 000 new samples, once it has reached the engine; `done()`: whether it is answered. */
  async function slowBatch(offset: number) {
    let done = false;
    const answered = post(queries(2000, offset)).then(async (res) => {
      done = true;
      return { status: res.status, body: (await res.json()) as { rewards: number[]; errors: unknown[] } };
    });
    await until('the first batch reaches the engine', async () => ((await metrics.queueDepth.get()).values[0]?.value ?? 0) > 0);
    return { answered, done: () => done };
  }

  it('a batch waiting behind another leaves when its client gives up; the first is answered in full', async () => {
    const closedBefore = await clientClosed();
    const first = await slowBatch(5000);
    const giveUp = new AbortController();
    const second = post(queries(2000, 9000), { signal: giveUp.signal }).catch((err: Error) => err.name);
    await until('the second batch waits for its turn', async () => (await waitingGauge()) === 1);
    giveUp.abort();
    expect(await second).toBe('AbortError');
    await until('the second batch has left', async () => (await waitingGauge()) === 0);
    expect(first.done(), 'the first batch was still being worked on when the second left').toBe(false);
    expect(await clientClosed()).toBe(closedBefore + 1);
    const { status, body } = await first.answered;
    expect(status).toBe(200);
    expect(body.rewards).toHaveLength(2000);
    expect(body.errors.every((e) => e === null)).toBe(true);
  });

  it('a large batch for a model that is not there is answered at once, not after the batch ahead', async () => {
    const first = await slowBatch(13000);
    const res = await post(queries(100, 20000), { path: '/get_reward?model=no-such-model' });
    expect(first.done(), 'the first batch was still being worked on when the other was answered').toBe(false);
    expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([404, 'MODEL_NOT_FOUND']);
    expect((await first.answered).status).toBe(200);
  });
});
