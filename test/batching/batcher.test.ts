import { describe, expect, it } from 'vitest';
import { Batcher } from '../../src/batching/batcher.js';
import { PrmError } from '../../src/errors.js';

interface Job {
  id: number;
  len: number;
}

/** A runner that records each batch and can be held until released. */
function recordingRunner() {
  const batches: number[][] = [];
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => {};
  return {
    batches,
    hold() {
      gate = new Promise<void>((r) => (open = r));
    },
    release() {
      open();
    },
    run: async (jobs: Job[]) => {
      batches.push(jobs.map((j) => j.id));
      await gate;
      return jobs.map((j) => j.id * 10);
    },
  };
}

const opts = { maxBatchTokens: 100, maxRows: 8, maxWaitMs: 5, maxQueueRows: 6 };

describe('Batcher', () => {
  it('resolves each row with its own result and groups concurrent rows into batches', async () => {
    const r = recordingRunner();
    const b = new Batcher<Job, number>(r.run, (j) => j.len, opts);
    const out = await Promise.all([1, 2, 3, 4].map((id) => b.submit({ id, len: 10 })));
    expect(out).toEqual([10, 20, 30, 40]);
    expect(r.batches).toEqual([[1, 2, 3, 4]]);
  });

  it('closes a batch on the padded token budget', async () => {
    const r = recordingRunner();
    const b = new Batcher<Job, number>(r.run, (j) => j.len, opts);
    await Promise.all([1, 2, 3].map((id) => b.submit({ id, len: 40 })));
    // 3 × 40 > 100: two rows fit, the third waits for the next batch
    expect(r.batches.map((x) => x.length)).toEqual([2, 1]);
  });

  it('drops a row whose client went away before it reaches the engine', async () => {
    const r = recordingRunner();
    r.hold();
    const b = new Batcher<Job, number>(r.run, (j) => j.len, opts);
    const first = b.submit({ id: 1, len: 10 });
    await new Promise((res) => setTimeout(res, 20)); // batch [1] is now running and held
    const ctl = new AbortController();
    const gone = b.submit({ id: 2, len: 10 }, ctl.signal);
    const kept = b.submit({ id: 3, len: 10 });
    ctl.abort();
    await expect(gone).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    r.release();
    await Promise.all([first, kept]);
    expect(r.batches).toEqual([[1], [3]]);
  });

  it('rejects with OVERLOADED and a retry hint when the queue is full', async () => {
    const r = recordingRunner();
    r.hold();
    const b = new Batcher<Job, number>(r.run, (j) => j.len, { ...opts, maxQueueRows: 2 });
    const running = b.submit({ id: 1, len: 10 });
    await new Promise((res) => setTimeout(res, 20));
    const q1 = b.submit({ id: 2, len: 10 });
    const q2 = b.submit({ id: 3, len: 10 });
    const err = await b.submit({ id: 4, len: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrmError);
    expect((err as PrmError).code).toBe('OVERLOADED');
    expect((err as PrmError).retryAfterS).toBeGreaterThan(0);
    r.release();
    await Promise.all([running, q1, q2]);
  });

  it('passes engine failures to every row of the failed batch only', async () => {
    let calls = 0;
    const b = new Batcher<Job, number>(
      async (jobs) => {
        calls++;
        if (calls === 1) throw new Error('boom');
        return jobs.map((j) => j.id);
      },
      (j) => j.len,
      { ...opts, maxBatchTokens: 10 },
    );
    const [a, c] = await Promise.allSettled([b.submit({ id: 1, len: 10 }), b.submit({ id: 2, len: 10 })]);
    expect(a.status).toBe('rejected');
    expect(c).toEqual({ status: 'fulfilled', value: 2 });
  });

  it('drain waits for queued work; close rejects what is still queued', async () => {
    const r = recordingRunner();
    r.hold();
    const b = new Batcher<Job, number>(r.run, (j) => j.len, { ...opts, maxBatchTokens: 10 });
    const p1 = b.submit({ id: 1, len: 10 });
    await new Promise((res) => setTimeout(res, 20));
    const p2 = b.submit({ id: 2, len: 10 });
    b.close();
    await expect(p2).rejects.toMatchObject({ code: 'NOT_READY' });
    let drained = false;
    const d = b.drain().then(() => (drained = true));
    await new Promise((res) => setTimeout(res, 20));
    expect(drained).toBe(false);
    r.release();
    await Promise.all([p1, d]);
    expect(drained).toBe(true);
  });
});

describe('Batcher reservations', () => {
  it('holds room for a whole request: others are refused while it is held, its own rows are not', async () => {
    const r = recordingRunner();
    r.hold();
    const b = new Batcher<Job, number>(r.run, (j) => j.len, { ...opts, maxQueueRows: 4 });
    const held = b.reserve(3, 30);
    expect(b.load.rows).toBe(3);
    expect(() => b.reserve(2, 20)).toThrow(expect.objectContaining({ code: 'OVERLOADED', retryAfterS: expect.any(Number) }));
    const rows = [1, 2, 3].map((id) => b.submit({ id, len: 10 }, undefined, held));
    // The held room became queued rows; the fourth row fits, a fifth without a reservation does not.
    const fourth = b.submit({ id: 4, len: 10 });
    await expect(b.submit({ id: 5, len: 10 })).rejects.toMatchObject({ code: 'OVERLOADED' });
    r.release();
    expect(await Promise.all([...rows, fourth])).toEqual([10, 20, 30, 40]);
    held.release();
    expect(b.load).toEqual({ rows: 0, tokens: 0 });
  });

  it('gives back what a request did not use', () => {
    const b = new Batcher<Job, number>(recordingRunner().run, (j) => j.len, opts);
    const held = b.reserve(5, 50);
    held.release();
    expect(b.load).toEqual({ rows: 0, tokens: 0 });
    expect(() => b.reserve(6, 60)).not.toThrow();
  });

  it('learns the engine pace from the batches that leave rows waiting, not from one that took all there was', async () => {
    const b = new Batcher<Job, number>(recordingRunner().run, (j) => j.len, opts);
    expect(b.rate.perSecond).toBeUndefined();
    await b.submit({ id: 1, len: 10 });
    expect(b.rate.perSecond).toBeUndefined();
    // 3 × 40 > 100: the first batch leaves a row waiting, the second takes the rest.
    await Promise.all([2, 3, 4].map((id) => b.submit({ id, len: 40 })));
    const paced = b.rate.perSecond;
    expect(paced).toBeGreaterThan(0);
    await b.submit({ id: 5, len: 10 });
    expect(b.rate.perSecond).toBe(paced);
  });
});

describe('Batcher batch choice', () => {
  it('takes rows out of arrival order only within four batches of work from the head', async () => {
    const r = recordingRunner();
    r.hold();
    const b = new Batcher<Job, number>(r.run, (j) => j.len, { maxBatchTokens: 100, maxRows: 8, maxWaitMs: 0, maxQueueRows: 1000 });
    const busy = b.submit({ id: 0, len: 10 });
    await new Promise((res) => setTimeout(res, 5)); // [0] runs and is held: the rest queue up
    const rows = [b.submit({ id: 1, len: 50 })];
    for (let id = 2; id < 102; id++) rows.push(b.submit({ id, len: 10 }));
    // As long as row 1, and far behind it: without the window it would share row 1's batch.
    rows.push(b.submit({ id: 102, len: 50 }));
    r.release();
    await Promise.all([busy, ...rows]);
    const second = r.batches[1];
    expect(second).toContain(1);
    expect(second).not.toContain(102);
    expect(r.batches.flat().sort((x, y) => x - y)).toEqual(Array.from({ length: 103 }, (_, i) => i));
  });
});

describe('Batcher place in line', () => {
  it('queues the rows of an admitted request as of its admission, ahead of rows that came after it', async () => {
    const r = recordingRunner();
    r.hold();
    // One row per batch, so the order of batches is the order of the queue.
    const b = new Batcher<Job, number>(r.run, (j) => j.len, { maxBatchTokens: 10, maxRows: 1, maxWaitMs: 0, maxQueueRows: 100 });
    const busy = b.submit({ id: 0, len: 10 });
    await new Promise((res) => setTimeout(res, 5)); // [0] runs and is held
    const admitted = b.reserve(1, 10);
    await new Promise((res) => setTimeout(res, 2));
    const later = [2, 3, 4].map((id) => b.submit({ id, len: 10 }));
    // Its row could only be submitted now (it waited for something else, a shared prompt say).
    const own = b.submit({ id: 9, len: 10 }, undefined, admitted);
    r.release();
    await Promise.all([busy, own, ...later]);
    expect(r.batches).toEqual([[0], [9], [2], [3], [4]]);
  });
});
