/**
 * Admission limits against the real app and real onnxruntime: body bytes, items, tokens per item
 * and per request (checked before any model work), the concurrency permit (503 with Retry-After,
 * released on every path), the queue's admission of a request as a whole (its rows, and the time
 * the backlog leaves it) and the request deadline (504, and the queued work is really dropped).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuLane } from '../../src/engine/cpu-lane.js';
import { ErrorCode, PrmError } from '../../src/errors.js';
import { metrics } from '../../src/metrics.js';
import { figure } from '../helpers/figures.js';
import { buildLoadedApp, type TestApp as HardenedApp } from '../harness/app.js';
import { trace } from '../helpers/traces.js';

async function counter(c: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }, labels: Record<string, string> = {}) {
  const { values } = await c.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

/** Waits (bounded) until no scoring call holds a permit: the work of aborted requests has stopped. */
async function settled(h: HardenedApp): Promise<void> {
  for (let i = 0; i < 600 && h.scoring.load().inFlight > 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect(h.scoring.load().inFlight).toBe(0);
}

/** Rows the engine has run, over all batches. */
const rowsRun = async () => (await metrics.batchRows.get()).values.find((v) => v.metricName === 'prm_batch_rows_sum')?.value ?? 0;

/** Many traces with distinct prompts: no shared prefix, so every one costs its own forward pass. */
const many = (n: number, offset = 0) => Array.from({ length: n }, (_, i) => trace(offset + i, 3));

describe('size limits', () => {
  let h: HardenedApp;
  beforeAll(async () => {
    h = await buildLoadedApp({ BODY_LIMIT_BYTES: '4096', MAX_ITEMS_PER_REQUEST: '4', MAX_TOKENS_PER_ITEM: '65', MAX_TOKENS_PER_REQUEST: '200' });
  });
  afterAll(() => h?.close());

  const post = (url: string, payload: unknown) => h.app.inject({ method: 'POST', url, payload: payload as object });

  it('bodies, items and tokens each have their own code, and nothing reaches the engine', async () => {
    const computed = await counter(metrics.batchRealTokens);
    const big = await post('/v1/score', { items: [{ prompt: 'x'.repeat(5000), steps: ['1'] }] });
    expect([big.statusCode, big.json().error.code]).toEqual([413, 'BODY_TOO_LARGE']);

    const items = await post('/v1/score', { items: many(5) });
    expect([items.statusCode, items.json().error.code]).toEqual([413, 'TOO_MANY_ITEMS']);

    // One token per character here: 23 prompt + 47 response tokens > 65 per item.
    const long = { prompt: '1+1', steps: ['1+1=2 '.repeat(6), 'Answer: 2'] };
    const item = await post('/v1/score', { items: [trace(1), long] });
    expect([item.statusCode, item.json().error.code]).toEqual([413, 'TOO_MANY_TOKENS']);
    expect(item.json().error.message).toMatch(/items\[1\] has \d+ tokens .* limit is 65 per item/);

    // Traces of 56–60 tokens: each one fits, four together exceed 200.
    const request = await post('/v1/score', { items: many(4) });
    expect([request.statusCode, request.json().error.code]).toEqual([413, 'TOO_MANY_TOKENS']);
    expect(request.json().error.message).toMatch(/limit is 200 per request/);

    // /get_reward gives an over-long sample the fallback reward instead (truncate=error: no retry).
    const reward = await post('/get_reward?truncate=error', { query: [`1+1\n${'1+1=2\n'.repeat(8)}Answer: 2`] });
    expect([reward.statusCode, reward.json().errors[0].code, reward.json().extra_logs.scored]).toEqual([200, 'TOO_MANY_TOKENS', [0]]);

    // The model's own limit keeps its code.
    const seq = await post('/v1/score', { items: [{ prompt: '1', steps: ['9'.repeat(300)] }] });
    expect([seq.statusCode, seq.json().error.code]).toEqual([413, 'SEQUENCE_TOO_LONG']);

    expect(await counter(metrics.batchRealTokens)).toBe(computed);
    expect((await post('/v1/score', { items: many(3) })).statusCode).toBe(200);
  });
});

describe('the concurrency permit', () => {
  let h: HardenedApp;
  beforeAll(async () => {
    // One request at a time, and one row per forward pass so that a big request lasts a while.
    h = await buildLoadedApp({ MAX_CONCURRENT_REQUESTS: '1', MAX_BATCH_TOKENS: '64', MAX_BATCH_WAIT_MS: '0', KV_CACHE_MAX_BYTES: '0' });
  });
  afterAll(() => h?.close());

  const post = (payload: unknown) => h.app.inject({ method: 'POST', url: '/v1/score', payload: payload as object });

  it('answers 503 OVERLOADED with Retry-After while the permit is taken, and 200 once it is free', async () => {
    const rejectedBefore = await counter(metrics.rejected, { reason: 'overloaded' });
    let done = false;
    const first = post({ items: many(200, 1000) }).finally(() => (done = true));
    let refused: Awaited<ReturnType<typeof post>> | undefined;
    while (!done && refused === undefined) {
      const r = await post({ items: [trace(7)] });
      if (r.statusCode === 503) refused = r;
      else expect(r.statusCode).toBe(200);
    }
    expect((await first).statusCode).toBe(200);
    expect(refused, 'no request was refused while a 200-item request ran').toBeDefined();
    expect(refused!.json().error.code).toBe('OVERLOADED');
    expect(Number(refused!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(await counter(metrics.rejected, { reason: 'overloaded' })).toBeGreaterThan(rejectedBefore);
    expect((await post({ items: [trace(8)] })).statusCode).toBe(200);
  });

  it('is released after errors and after deadlines', async () => {
    expect((await post({ items: [{ prompt: '1', steps: ['1', ''] }] })).statusCode).toBe(400);
    expect((await post({ items: [{ prompt: '1', steps: ['9'.repeat(300)] }] })).statusCode).toBe(413);
    expect((await post({ model: 'nope', items: [trace(1)] })).statusCode).toBe(404);
    const late = await post({ items: many(200, 2000), options: { timeout_ms: 20 } });
    expect([late.statusCode, late.json().error.code]).toEqual([504, 'DEADLINE_EXCEEDED']);
    await settled(h);
    expect((await post({ items: [trace(9)] })).statusCode).toBe(200);
  });
});

describe('a full queue', () => {
  let h: HardenedApp;
  beforeAll(async () => {
    // One row per forward pass and room for few rows, so a second request overflows the queue.
    h = await buildLoadedApp({ MAX_QUEUE_ROWS: '6', MAX_BATCH_TOKENS: '64', MAX_BATCH_WAIT_MS: '0', KV_CACHE_MAX_BYTES: '0', CACHE_MAX_BYTES: '0' });
  });
  afterAll(() => h?.close());

  it('refuses the request that would overflow it as a whole: counted once, none of its rows ever queued', async () => {
    const rowsBefore = await rowsRun();
    const rejectedBefore = await counter(metrics.rejected, { reason: 'overloaded' });
    const droppedBefore = await counter(metrics.rowsDropped);
    const first = h.app.inject({ method: 'POST', url: '/v1/score', payload: { items: many(5, 4000) } });
    await new Promise((r) => setImmediate(r));
    const second = await h.app.inject({ method: 'POST', url: '/v1/score', payload: { items: many(8, 5000) } });
    expect([second.statusCode, second.json().error.code]).toEqual([503, 'OVERLOADED']);
    expect(second.json().error.message).toMatch(/queue is full .* this request needs 8/);
    expect(Number(second.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await first).statusCode).toBe(200);
    await settled(h);
    expect(await counter(metrics.rejected, { reason: 'overloaded' })).toBe(rejectedBefore + 1);
    // Admitted as a whole or not at all: no row of the second request took queue room to give back.
    expect(await counter(metrics.rowsDropped)).toBe(droppedBefore);
    expect((await rowsRun()) - rowsBefore).toBe(5);
  });
});

describe('a /get_reward batch larger than one request', () => {
  let h: HardenedApp;
  beforeAll(async () => {
    // Chunks of 4 samples, room for 6 rows, one row per forward pass, nothing cached.
    h = await buildLoadedApp({ MAX_ITEMS_PER_REQUEST: '4', MAX_QUEUE_ROWS: '6', MAX_BATCH_TOKENS: '64', MAX_BATCH_WAIT_MS: '0', KV_CACHE_MAX_BYTES: '0', CACHE_MAX_BYTES: '0' });
  });
  afterAll(() => h?.close());

  const query = (n: number, from: number) => many(n, from).map((t) => [t.prompt, ...t.steps].join('\n'));

  it('is admitted as one request: refused as a whole when its chunks do not fit the queue together', async () => {
    const rowsBefore = await rowsRun();
    const rejectedBefore = await counter(metrics.rejected, { reason: 'overloaded' });
    // The engine's lane held: the first chunk's rows stay queued, however slow the second chunk is
    // to reach the queue (otherwise a busy machine could let the first finish before it).
    let openLane!: () => void;
    const laneHeld = cpuLane.run(() => new Promise<void>((resolve) => (openLane = resolve)));
    const res = await h.app.inject({ method: 'POST', url: '/get_reward', payload: { query: query(8, 9000) } });
    openLane();
    await laneHeld;
    expect([res.statusCode, res.json().error?.code], res.body).toEqual([503, 'OVERLOADED']);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    await settled(h);
    // One refusal: the chunk called off with the batch was not refused itself.
    expect(await counter(metrics.rejected, { reason: 'overloaded' })).toBe(rejectedBefore + 1);
    // The chunk that was admitted was called off with the batch: fewer rows ran than it has.
    expect((await rowsRun()) - rowsBefore).toBeLessThan(4);
    // Chunks that fit together are scored, each sample once.
    const fits = await h.app.inject({ method: 'POST', url: '/get_reward', payload: { query: query(6, 9100) } });
    expect(fits.statusCode, fits.body).toBe(200);
    expect(fits.json().extra_logs.scored).toEqual([1, 1, 1, 1, 1, 1]);
  });
});

describe('a /get_reward batch of more chunks than MAX_CONCURRENT_REQUESTS', () => {
  let h: HardenedApp;
  beforeAll(async () => {
    h = await buildLoadedApp({ MAX_CONCURRENT_REQUESTS: '2', MAX_ITEMS_PER_REQUEST: '4' });
  });
  afterAll(() => h?.close());

  it('is one request: all of its chunks are scored', async () => {
    const query = many(16, 9500).map((t) => [t.prompt, ...t.steps].join('\n'));
    const res = await h.app.inject({ method: 'POST', url: '/get_reward', payload: { query } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().extra_logs.scored).toEqual(Array(16).fill(1));
  });
});

describe('a backlog that would make a request late', () => {
  let h: HardenedApp;
  beforeAll(async () => {
    // One row per forward pass and no caches: a 200-item request keeps the engine busy for a while.
    h = await buildLoadedApp({ MAX_BATCH_TOKENS: '64', MAX_BATCH_WAIT_MS: '0', KV_CACHE_MAX_BYTES: '0', CACHE_MAX_BYTES: '0' });
  });
  afterAll(() => h?.close());

  const post = (payload: unknown) => h.app.inject({ method: 'POST', url: '/v1/score', payload: payload as object });

  it('refuses it at once with Retry-After instead of running its rows and answering 504', async () => {
    const rowsAtStart = await rowsRun();
    const busy = post({ items: many(200, 7000) });
    // Some batches must have run for the engine's pace to be known.
    for (let i = 0; i < 200 && (await rowsRun()) - rowsAtStart < 4; i++) await new Promise((r) => setTimeout(r, 10));
    const failedBefore = await counter(metrics.requestEngineTokens, { outcome: 'failed' });
    const succeededBefore = await counter(metrics.requestEngineTokens, { outcome: 'succeeded' });
    const startedAt = performance.now();
    const late = await post({ items: many(4, 8000), options: { timeout_ms: 100 } });
    const answeredInMs = performance.now() - startedAt;
    expect([late.statusCode, late.json().error.code], late.body).toEqual([503, 'OVERLOADED']);
    expect(late.json().error.message).toMatch(/would not finish within its deadline/);
    expect(Number(late.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await busy).statusCode).toBe(200);
    await settled(h);
    // None of its rows ran: the engine ran exactly the busy request's 200 rows, and no engine work failed.
    expect((await rowsRun()) - rowsAtStart).toBe(200);
    expect(await counter(metrics.requestEngineTokens, { outcome: 'failed' })).toBe(failedBefore);
    expect(await counter(metrics.requestEngineTokens, { outcome: 'succeeded' })).toBeGreaterThan(succeededBefore);
    figure('backlog refusal', { answered_in_ms: Math.round(answeredInMs), retry_after_s: Number(late.headers['retry-after']) });
  });
});

describe('a shared prompt', () => {
  let h: HardenedApp;
  beforeAll(async () => {
    // One row per pass, prompt sharing on (the KV cache), no log-prob cache: everything is computed.
    h = await buildLoadedApp({ MAX_BATCH_TOKENS: '64', MAX_BATCH_WAIT_MS: '0', CACHE_MAX_BYTES: '0' });
  });
  afterAll(() => h?.close());

  it('still serves the other requests waiting on it when the request that started it runs out of time', async () => {
    const prompt = 'Shared: 17+25-9';
    const items = (n: number, from: number) => Array.from({ length: n }, (_, i) => ({ prompt, steps: trace(from + i, 3).steps }));
    // A long request first, so that the rows below wait in the queue.
    const busy = h.app.inject({ method: 'POST', url: '/v1/score', payload: { items: many(60, 6000) } });
    const queued = async () => (await metrics.queueDepth.get()).values[0]?.value ?? 0;
    for (let i = 0; i < 400 && (await queued()) < 20; i++) await new Promise((r) => setTimeout(r, 5));
    // Its deadline given as the signal alone: admission, which sees no deadline, lets it start the prompt.
    const deadline = new AbortController();
    const late = h.scoring.score(undefined, items(2, 100), {}, deadline.signal);
    setTimeout(() => deadline.abort(new PrmError(ErrorCode.DEADLINE_EXCEEDED, 'past its deadline')), 20);
    await new Promise((r) => setImmediate(r));
    const waiting = h.app.inject({ method: 'POST', url: '/v1/score', payload: { items: items(2, 200) } });
    await expect(late).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    const other = await waiting;
    expect(other.statusCode, other.body).toBe(200);
    expect((await busy).statusCode).toBe(200);
  });
});

describe('the deadline', () => {
  let h: HardenedApp;
  beforeAll(async () => {
    h = await buildLoadedApp({ MAX_BATCH_TOKENS: '64', MAX_BATCH_WAIT_MS: '0', KV_CACHE_MAX_BYTES: '0', CACHE_MAX_BYTES: '0' });
  });
  afterAll(() => h?.close());

  it('answers 504 and cancels the rest of the work: queued rows never reach the engine', async () => {
    const items = many(200, 3000);
    const computedBefore = await counter(metrics.batchRealTokens);
    const deadlinesBefore = await counter(metrics.rejected, { reason: 'deadline' });
    const res = await h.app.inject({ method: 'POST', url: '/v1/score', payload: { items, options: { timeout_ms: 30 } } });
    expect(res.statusCode).toBe(504);
    expect(res.json().error).toEqual({ code: 'DEADLINE_EXCEEDED', message: expect.stringContaining('30 ms') });
    await settled(h);
    const computed = (await counter(metrics.batchRealTokens)) - computedBefore;
    expect(await counter(metrics.queueDepth)).toBe(0);
    expect(await counter(metrics.rejected, { reason: 'deadline' })).toBe(deadlinesBefore + 1);

    // The same request without a deadline: what all the work would have been.
    const full = await h.app.inject({ method: 'POST', url: '/v1/score', payload: { items } });
    expect(full.statusCode).toBe(200);
    const usage = full.json().usage as { prompt_tokens: number; response_tokens: number };
    expect(computed).toBeLessThan((usage.prompt_tokens + usage.response_tokens) / 2);
    figure('deadline', { items: items.length, timeout_ms: 30, tokens_of_request: usage.prompt_tokens + usage.response_tokens, tokens_computed_before_cancel: computed });
  });
});

describe('oversized requests fail at their first excess', () => {
  let h: HardenedApp;
  beforeAll(async () => {
    // Arrays of up to 1024 elements reach the routes (src/http/json-shape.ts).
    h = await buildLoadedApp({ MAX_TOKENS_PER_ITEM: '200', MAX_ITEMS_PER_REQUEST: '1024' });
  });
  afterAll(() => h?.close());

  it('an item with more steps than the per-item token limit is refused before it is tokenized', async () => {
    const steps = Array.from({ length: 600 }, () => 'a');
    const r = await h.app.inject({ method: 'POST', url: '/v1/score', payload: { items: [{ prompt: 'p', steps }] } });
    expect(r.statusCode).toBe(413);
    expect(r.json().error).toEqual({ code: 'TOO_MANY_TOKENS', message: expect.stringMatching(/^items\[0\]( \(id "0"\))?: 600 steps are more than the 200 tokens an item may have$/) });
  });

  it('an item with more steps than the model takes tokens is refused before it is tokenized', async () => {
    const r = await h.app.inject({ method: 'POST', url: '/v1/score', payload: { model: 'tiny-logprobs', items: [{ prompt: 'p', steps: Array.from({ length: 300 }, () => 'a') }] } });
    expect(r.json().error).toEqual({ code: 'TOO_MANY_TOKENS', message: expect.stringMatching(/300 steps are more than the 200 tokens an item may have$/) });
    const big = await buildLoadedApp({ MAX_TOKENS_PER_ITEM: '100000' });
    try {
      const r2 = await big.app.inject({ method: 'POST', url: '/v1/score', payload: { items: [{ prompt: 'p', steps: Array.from({ length: 300 }, () => 'a') }] } });
      expect(r2.json().error).toEqual({ code: 'SEQUENCE_TOO_LONG', message: expect.stringMatching(/300 steps are more than the 256 tokens this model takes$/) });
    } finally {
      await big.close();
    }
  });

  it('a body with an array longer than any limit allows is refused before it is parsed', async () => {
    const steps = Array.from({ length: 100_000 }, () => 'a');
    const r = await h.app.inject({ method: 'POST', url: '/v1/score', payload: { items: [{ prompt: 'p', steps }] } });
    expect(r.statusCode).toBe(413);
    expect(r.json().error).toEqual({ code: 'BODY_TOO_LARGE', message: expect.stringMatching(/an array of more than 1024 elements/) });
  });
});
