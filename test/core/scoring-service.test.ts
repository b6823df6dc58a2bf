/**
 * The scoring service end to end on the analytic bigram bundles: every number is recomputed here
 * in closed form from bigram.json (log-probs, q, rewards, values, aggregates, token rewards).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadingScoringService } from '../../src/core/scoring-service.js';
import { testScoringService } from '../harness/app.js';
import type { ItemResult } from '../../src/core/types.js';
import { BUNDLES_DIR, SPECIAL, bigram, charIds, sequenceLogprobs, type Flavour } from '../fixtures/analytic/closed-form.js';

interface Layout {
  flavour: Flavour;
  referenceFree: boolean;
  promptIds: (prompt: string) => number[];
  sep: string;
  eos: boolean;
}

const LAYOUTS: Record<string, Layout> = {
  'bigram-logprobs': { flavour: 'logprobs', referenceFree: false, promptIds: (p) => charIds(`Q: ${p}\nA:\n`), sep: '\n', eos: true },
  'bigram-logits': { flavour: 'logits', referenceFree: false, promptIds: (p) => charIds(`Q: ${p}\nA:\n`), sep: '\n', eos: true },
  'bigram-ref-free': {
    flavour: 'logprobs',
    referenceFree: true,
    // The chat template: bos <|user|> prompt \n <|assistant|>
    promptIds: (p) => [SPECIAL.bos, SPECIAL.user, ...charIds(p + '\n'), SPECIAL.assistant],
    sep: '\n\n',
    eos: false,
  },
};

/** Expected result of one trace, computed independently of src/. */
function expectedResult(layout: Layout, prompt: string, steps: string[], beta: number) {
  const segs = steps.map((s, k) => (k < steps.length - 1 ? charIds(s + layout.sep) : [...charIds(s), ...(layout.eos ? [SPECIAL.eos] : [])]));
  const promptIds = layout.promptIds(prompt);
  const ids = [...promptIds, ...segs.flat()];
  const pol = sequenceLogprobs('policy', layout.flavour, ids).slice(promptIds.length - 1);
  const ref = layout.referenceFree ? null : sequenceLogprobs('reference', layout.flavour, ids).slice(promptIds.length - 1);
  const ell = pol.map((p, i) => (ref ? p - ref[i] : p));
  const tokenRewards: number[][] = [];
  const q: number[] = [];
  let at = 0;
  let sum = 0;
  for (const s of segs) {
    tokenRewards.push(ell.slice(at, at + s.length).map((l) => beta * l));
    for (let j = 0; j < s.length; j++) sum += ell[at + j];
    at += s.length;
    q.push(beta * sum);
  }
  const r = q.map((x, k) => x - (k === 0 ? 0 : q[k - 1]));
  return {
    promptTokens: promptIds.length,
    responseTokens: at,
    stepTokens: segs.map((s) => s.length),
    q,
    r,
    values: q.map((x) => 1 / (1 + Math.exp(-x))),
    tokenRewards,
    min: Math.min(...r),
    sum: q[q.length - 1],
    last: r[r.length - 1],
    mean: r.reduce((a, b) => a + b, 0) / r.length,
  };
}

function expectItem(got: ItemResult, want: ReturnType<typeof expectedResult>, tol = 2e-5): void {
  expect(got.steps.map((s) => s.tokens)).toEqual(want.stepTokens);
  got.steps.forEach((s, k) => {
    expect(Math.abs(s.q - want.q[k])).toBeLessThan(tol);
    expect(Math.abs(s.reward - want.r[k])).toBeLessThan(tol);
    expect(Math.abs(s.value - want.values[k])).toBeLessThan(tol);
  });
  expect(Math.abs(got.outcome_reward - want.sum)).toBeLessThan(tol);
  expect(got.cached_tokens).toBe(0);
}

const PROMPT = '12+7';
const STEPS = ['12+7=19', 'so the answer is 19.', 'done'];

let service: LoadingScoringService;
beforeAll(async () => {
  // Caches off: these checks are about the uncached maths (cached paths: cached-scoring.test.ts).
  service = testScoringService({ MODELS_DIR: BUNDLES_DIR, CACHE_MAX_BYTES: '0', KV_CACHE_MAX_BYTES: '0' });
  await service.whenLoaded();
});
afterAll(async () => {
  await service.close();
});

describe('ScoringService on the analytic bundles', () => {
  it('loads and warms every bundle and reports them', () => {
    const r = service.readiness();
    expect(r).toEqual({
      ready: true,
      models: { 'bigram-logits': 'ready', 'bigram-logprobs': 'ready', 'bigram-ref-free': 'ready' },
      degraded: [],
    });
    const info = service.models();
    expect(info.map((m) => m.name)).toEqual(['bigram-logits', 'bigram-logprobs', 'bigram-ref-free']);
    for (const m of info) {
      // The fingerprint computed here equals the one Python computed when writing the bundle.
      expect(m.fingerprint).toBe(bigram.fingerprints[m.name]);
      expect(m.graph).toBe(LAYOUTS[m.name].flavour);
      expect(m.reference_free).toBe(LAYOUTS[m.name].referenceFree);
      expect(m.execution_provider).toBe('cpu');
      expect(m.beta).toBe(0.5);
    }
    expect(service.defaultModel()).toBe('bigram-logits');
  });

  it.each(Object.keys(LAYOUTS))('%s: step rewards, q, values and token rewards in closed form', async (name) => {
    const res = await service.score(name, [{ prompt: PROMPT, steps: STEPS }], { token_rewards: true });
    const want = expectedResult(LAYOUTS[name], PROMPT, STEPS, 0.5);
    expect(res.model).toEqual({ name, fingerprint: bigram.fingerprints[name], beta: 0.5, reference_free: LAYOUTS[name].referenceFree });
    const item = res.results[0];
    expect(item.id).toBe('0');
    expectItem(item, want);
    expect(Math.abs(item.score - want.min)).toBeLessThan(2e-5);
    expect(item.token_rewards!.map((t) => t.length)).toEqual(want.stepTokens);
    item.token_rewards!.flat().forEach((t, i) => expect(Math.abs(t - want.tokenRewards.flat()[i])).toBeLessThan(2e-5));
    expect(res.usage).toEqual({ items: 1, prompt_tokens: want.promptTokens, response_tokens: want.responseTokens, cached_tokens: 0 });
    expect(res.timings.queue_ms).toBeGreaterThanOrEqual(0);
    expect(res.timings.total_ms).toBeGreaterThanOrEqual(res.timings.queue_ms);
    expect(res.timings.total_ms).toBeGreaterThanOrEqual(res.timings.infer_ms);
  });

  it.each(['min', 'sum', 'last', 'mean'] as const)('aggregate %s', async (aggregate) => {
    const res = await service.score('bigram-logprobs', [{ prompt: PROMPT, steps: STEPS }], { aggregate });
    const want = expectedResult(LAYOUTS['bigram-logprobs'], PROMPT, STEPS, 0.5);
    expect(Math.abs(res.results[0].score - want[aggregate])).toBeLessThan(2e-5);
    expect(res.results[0].token_rewards).toBeUndefined();
  });

  it('applies a β override to q, rewards and values, and reports it', async () => {
    const res = await service.score('bigram-logits', [{ prompt: PROMPT, steps: STEPS }], { beta: 0.001 });
    expect(res.model.beta).toBe(0.001);
    expectItem(res.results[0], expectedResult(LAYOUTS['bigram-logits'], PROMPT, STEPS, 0.001), 1e-7);
  });

  it('keeps ids, defaults missing ones to the index, and scores a mixed batch like single items', async () => {
    const items = [
      { id: 'a', prompt: PROMPT, steps: STEPS },
      { prompt: 'x', steps: ['y'] },
      { prompt: '3*4', response: '3*4=12\nthe answer is 12' },
    ];
    const res = await service.score('bigram-logprobs', items, {});
    expect(res.results.map((r) => r.id)).toEqual(['a', '1', '2']);
    expectItem(res.results[1], expectedResult(LAYOUTS['bigram-logprobs'], 'x', ['y'], 0.5));
    expectItem(res.results[2], expectedResult(LAYOUTS['bigram-logprobs'], '3*4', ['3*4=12', 'the answer is 12'], 0.5));
    expect(res.usage.items).toBe(3);
  });

  it('scores a partial trace with a separator after every step and no EOS', async () => {
    const res = await service.score('bigram-logprobs', [{ prompt: PROMPT, steps: STEPS.slice(0, 2) }], { partial: true });
    const full = expectedResult(LAYOUTS['bigram-logprobs'], PROMPT, STEPS, 0.5);
    // Steps 1..2 of the partial trace are exactly the first two segments of the full one.
    expect(res.results[0].steps.map((s) => s.tokens)).toEqual(full.stepTokens.slice(0, 2));
    res.results[0].steps.forEach((s, k) => expect(Math.abs(s.q - full.q[k])).toBeLessThan(2e-5));
  });

  it('answers an empty item list without running a model', async () => {
    const res = await service.score(undefined, [], {});
    expect(res.results).toEqual([]);
    expect(res.model.name).toBe('bigram-logits');
    expect(res.usage).toEqual({ items: 0, prompt_tokens: 0, response_tokens: 0, cached_tokens: 0 });
  });
});

describe('ScoringService request errors', () => {
  const item = [{ prompt: PROMPT, steps: STEPS }];

  it('rejects unknown models with MODEL_NOT_FOUND naming the available ones', async () => {
    await expect(service.score('nope', item, {})).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND', message: expect.stringContaining('bigram-logits') });
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('rejects β = %s with INVALID_OPTION', async (beta) => {
    await expect(service.score(undefined, item, { beta })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });

  it('rejects an unknown aggregate with INVALID_OPTION', async () => {
    await expect(service.score(undefined, item, { aggregate: 'max' as never })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });

  it('names the failing item', async () => {
    await expect(service.score(undefined, [item[0], { id: 'bad', prompt: 'p', steps: ['a', ''] }], {})).rejects.toMatchObject({
      code: 'EMPTY_STEP',
      message: expect.stringMatching(/^items\[1\] \(id "bad"\): step 2 of 2/),
    });
  });

  it('maps an aborted signal to CLIENT_CLOSED, a timeout to DEADLINE_EXCEEDED', async () => {
    const closed = new AbortController();
    closed.abort();
    await expect(service.score(undefined, item, {}, closed.signal)).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    const timedOut = new AbortController();
    timedOut.abort(new DOMException('deadline', 'TimeoutError'));
    await expect(service.score(undefined, item, {}, timedOut.signal)).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
  });
});
