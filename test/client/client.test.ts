/**
 * The TypeScript client against a live service with the tiny test bundles: every method, the
 * options it forwards, and the errors it raises. Only the retry and timeout mechanics use a bare
 * HTTP server, because the real service cannot be made to answer 503 or hang on cue.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrmApiError, PrmClient } from '../../src/index.js';
import { startLiveServer, type TestApp as LiveServer } from '../harness/app.js';

const PROMPT = '48+27-39*2';
const STEPS = ['48+27=75', '75-39=44', '44*2=88', 'Answer: 88'];

let server: LiveServer;
let prm: PrmClient;
beforeAll(async () => {
  server = await startLiveServer();
  prm = new PrmClient({ baseUrl: `${server.url}/` }); // a trailing slash is tolerated
});
afterAll(() => server?.close());

describe('PrmClient against the service', () => {
  it('scores traces given as steps or as one response, in request order', async () => {
    const res = await prm.score([
      { id: 'steps', prompt: PROMPT, steps: STEPS },
      { prompt: PROMPT, response: STEPS.join('\n') },
    ]);
    expect(res.model).toMatchObject({ name: 'tiny-logprobs', beta: 0.05, reference_free: false });
    expect(res.results.map((r) => r.id)).toEqual(['steps', '1']);
    const [a, b] = res.results;
    expect(b!.steps).toEqual(a!.steps.map((s) => expect.objectContaining({ tokens: s.tokens })));
    expect(b!.score).toBeCloseTo(a!.score, 9);
    expect(a!.score).toBe(Math.min(...a!.steps.map((s) => s.reward)));
    expect(res.usage.items).toBe(2);
  });

  it('tokenizes text items and scores their ids, rewards per token with their ids', async () => {
    const tok = await prm.tokenize([{ prompt: PROMPT, steps: STEPS }], { model: 'tiny-ref-free' });
    expect(tok.model.name).toBe('tiny-ref-free');
    const { prompt_ids, response_ids, step_ends, step_ids, step_offsets } = tok.results[0]!;
    const [text, ids] = (await prm.score([{ prompt: PROMPT, steps: STEPS }, { prompt_ids, response_ids, step_ends }], { model: 'tiny-ref-free', token_rewards: true })).results;
    expect(ids!.steps).toEqual(text!.steps);
    expect(ids!.token_ids).toEqual(step_ids);
    expect(text!.token_offsets).toEqual(step_offsets);
    expect(ids!.token_offsets).toBeNull();
    const partial = await prm.tokenize([{ prompt: PROMPT, steps: STEPS }], { partial: true });
    expect(partial.results[0]!.response_text).toBe(STEPS.join('\n') + '\n');
  });

  it('forwards model, aggregate, token rewards and beta', async () => {
    const base = await prm.scoreSteps(PROMPT, STEPS, { model: 'tiny-ref-free', aggregate: 'last', token_rewards: true });
    const doubled = await prm.scoreSteps(PROMPT, STEPS, { model: 'tiny-ref-free', aggregate: 'last', beta: 0.1 });
    expect(base.score).toBe(base.steps.at(-1)!.reward);
    expect(base.token_rewards!.map((t) => t.length)).toEqual(base.steps.map((s) => s.tokens));
    expect(doubled.token_rewards).toBeUndefined();
    expect(doubled.outcome_reward).toBeCloseTo(2 * base.outcome_reward, 6); // rewards scale with β
  });

  it('speaks OpenRLHF through getReward', async () => {
    const res = await prm.getReward({ query: [`${PROMPT}\n${STEPS.join('\n')}`], prompts: [PROMPT], labels: ['ignored'] });
    const direct = await prm.scoreSteps(PROMPT, STEPS);
    expect(res.rewards).toHaveLength(1);
    expect(res.rewards[0]).toBeCloseTo(direct.score, 6);
    expect(res.scores).toEqual(res.rewards);
    expect(res.step_rewards[0]).toHaveLength(4);
    expect(await prm.getReward({ query: [] })).toEqual({
      rewards: [], scores: [], extra_logs: { outcome_reward: [], num_steps: [], scored: [], truncated: [] }, step_rewards: [], errors: [],
    });
  });

  it('lists models and reports readiness', async () => {
    const { models, default_model } = await prm.models();
    expect(default_model).toBe('tiny-logprobs');
    expect(models.find((m) => m.name === 'tiny-logits')).toMatchObject({ graph: 'logits', step_separator: '\n', execution_provider: 'cpu' });
    expect(await prm.readiness()).toMatchObject({ ready: true, models: { 'tiny-logprobs': 'ready' } });
    expect((await prm.waitUntilReady(1000)).ready).toBe(true);
  });

  it('raises PrmApiError with the service code and status', async () => {
    const err = await prm.score([{ prompt: PROMPT, steps: ['48+27=75', ''] }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrmApiError);
    expect(err).toMatchObject({ status: 400, code: 'EMPTY_STEP', retryable: false, isClientError: true });
    const missing = await prm.score([{ prompt: PROMPT, steps: STEPS }], { model: 'nope' }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 404, code: 'MODEL_NOT_FOUND' });
    expect((missing as PrmApiError).message).toContain('tiny-logprobs');
  });

  it('reports a service that is not there as NETWORK', async () => {
    const gone = new PrmClient({ baseUrl: 'http://127.0.0.1:9', maxRetries: 0 });
    await expect(gone.models()).rejects.toMatchObject({ status: 0, code: 'NETWORK', retryable: true });
  });
});

describe('PrmClient retry and timeout mechanics', () => {
  let stub: Server;
  let stubUrl: string;
  let calls = 0;
  beforeAll(async () => {
    // Answers 503 with Retry-After: 0 twice, then 200; never answers requests marked x-hang.
    stub = createServer((req, res) => {
      if (req.headers['x-hang']) return;
      calls++;
      if (calls <= 2) {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
        res.end(JSON.stringify({ error: { code: 'OVERLOADED', message: 'busy' } }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ default_model: null, models: [] }));
      }
    });
    await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
    stubUrl = `http://127.0.0.1:${(stub.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise((r) => stub.close(r)));

  it('retries 503 after Retry-After, up to maxRetries', async () => {
    calls = 0;
    await expect(new PrmClient({ baseUrl: stubUrl, maxRetries: 1 }).models()).rejects.toMatchObject({ status: 503, code: 'OVERLOADED', retryAfterS: 0 });
    calls = 0;
    await expect(new PrmClient({ baseUrl: stubUrl, maxRetries: 2 }).models()).resolves.toEqual({ default_model: null, models: [] });
    expect(calls).toBe(3);
  });

  it('gives up after timeoutMs with TIMEOUT, which is not retried', async () => {
    const slow = new PrmClient({ baseUrl: stubUrl, timeoutMs: 200, maxRetries: 3, headers: { 'x-hang': '1' } });
    const t0 = Date.now();
    const err = await slow.models().catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 0, code: 'TIMEOUT', retryable: false });
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
