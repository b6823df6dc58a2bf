/**
 * Property-based fuzzing (fast-check) of the scoring endpoints with the real app and real models:
 * arbitrary JSON, valid bodies with one part mutated, and raw bytes. Every answer is a 2xx, or a
 * 4xx in the one error body shape; never a 5xx (except 504 for a client's own tiny timeout_ms).
 * Afterwards a valid request still succeeds.
 *
 * Runs are few (CPU is shared) but seeded per run, and fast-check prints the seed and the shrunk
 * counterexample of a failure, so a failure can be replayed.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { figure } from '../helpers/figures.js';
import { buildLoadedApp, type TestApp as HardenedApp } from '../harness/app.js';
import { trace } from '../helpers/traces.js';

const CODES = new Set<string>(Object.values(ErrorCode));
const RUNS = 120;

let h: HardenedApp;
beforeAll(async () => {
  // Small limits so that mutated sizes reach them cheaply.
  h = await buildLoadedApp({ MAX_ITEMS_PER_REQUEST: '8', BODY_LIMIT_BYTES: '65536', MAX_TOKENS_PER_REQUEST: '2000' });
});
afterAll(() => h?.close());

interface Sent {
  url: string;
  payload: string;
  contentType?: string;
}

async function send({ url, payload, contentType = 'application/json' }: Sent) {
  const res = await h.app.inject({ method: 'POST', url, payload, headers: { 'content-type': contentType } });
  return res;
}

/** Statuses seen, to check that the fuzzing reaches the models and not only the validator. */
const seen = new Map<number, number>();

async function expectClientOutcome(req: Sent): Promise<void> {
  const res = await send(req);
  seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
  const where = `${req.url} ${req.contentType ?? ''} ${req.payload.slice(0, 300)} → ${res.statusCode} ${res.body.slice(0, 300)}`;
  expect(res.statusCode, where).toBeGreaterThanOrEqual(200);
  if (res.statusCode === 504) {
    // The one 5xx a client can ask for: its own options.timeout_ms of a few milliseconds.
    expect(res.json().error.code, where).toBe('DEADLINE_EXCEEDED');
    expect(req.payload, where).toContain('timeout_ms');
  } else expect(res.statusCode, where).toBeLessThan(500);
  if (res.statusCode >= 400) {
    const body = res.json() as { error?: { code?: unknown; message?: unknown } };
    expect(Object.keys(body), where).toEqual(['error']);
    expect(CODES.has(String(body.error?.code)), where).toBe(true);
    expect(typeof body.error?.message, where).toBe('string');
  }
}

// Text that stresses the tokenizer and the templates (any code unit, lone surrogates too, template
// and separator look-alikes), mixed with plain arithmetic text so that most bodies get past
// validation and through the models.
const arithmetic = fc.string({ unit: fc.constantFrom(...'0123456789+-*=: Answer'), minLength: 1, maxLength: 24 });
const text = fc.oneof(
  { arbitrary: arithmetic, weight: 4 },
  { arbitrary: fc.string({ maxLength: 30 }), weight: 1 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 30 }), weight: 1 },
  { arbitrary: fc.constantFrom('', ' ', '\n', '\n\n', '{prompt}', '$&', '\u0000', '\ud800', '<eos>', '<unk>', '1+1=2\n'), weight: 1 },
);
const item = fc.record(
  { id: fc.option(text, { nil: undefined }), prompt: text, steps: fc.array(text, { minLength: 1, maxLength: 5 }) },
  { requiredKeys: ['prompt', 'steps'] },
);
const responseItem = fc.record({ prompt: text, response: text });
/** Mostly valid values, sometimes anything. */
const mostly = <T>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<unknown>) => fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: other, weight: 1 });
const options = fc.record(
  {
    aggregate: mostly(fc.constantFrom('min', 'sum', 'last', 'mean'), fc.string({ maxLength: 6 })),
    token_rewards: mostly(fc.boolean(), fc.jsonValue({ maxDepth: 1 })),
    beta: mostly(fc.constantFrom(1e-300, 0.001, 0.05, 1, 1e6, 1e7, 1e300, Number.MAX_VALUE), fc.oneof(fc.double(), fc.constantFrom(-1, 0), fc.string({ maxLength: 4 }))),
    partial: mostly(fc.boolean(), fc.jsonValue({ maxDepth: 1 })),
    timeout_ms: mostly(fc.constantFrom(1_000, 30_000, 2 ** 31), fc.oneof(fc.integer(), fc.constantFrom(0, 1, 2 ** 53))),
  },
  { requiredKeys: [] },
);
const scoreBody = fc.record(
  {
    model: mostly(fc.constantFrom('tiny-logprobs', 'tiny-logits', 'tiny-ref-free'), text),
    items: fc.array(fc.oneof(item, responseItem), { maxLength: 10 }),
    options,
  },
  { requiredKeys: ['items'] },
);
const getRewardBody = fc.record(
  {
    query: fc.array(mostly(fc.tuple(arithmetic, arithmetic).map(([a, b]) => `${a}\n${b}`), text), { maxLength: 10 }),
    labels: fc.jsonValue({ maxDepth: 2 }),
    model: mostly(fc.constantFrom('tiny-logprobs', 'tiny-ref-free'), text),
    aggregate: mostly(fc.constantFrom('min', 'sum', 'last', 'mean'), fc.string({ maxLength: 6 })),
    beta: mostly(fc.constantFrom(1e300, Number.MAX_VALUE, 0.05), fc.double()),
  },
  { requiredKeys: ['query'] },
);

/** Replaces, deletes or adds one member somewhere in a JSON value. */
function mutate(value: unknown, path: number[], replacement: unknown, op: 'set' | 'delete' | 'add'): unknown {
  if (value === null || typeof value !== 'object') return op === 'delete' ? undefined : replacement;
  const keys = Object.keys(value as object);
  if (keys.length === 0 || path.length === 0) {
    if (Array.isArray(value)) return op === 'add' ? [...value, replacement] : replacement;
    return op === 'add' ? { ...(value as object), extra_field: replacement } : replacement;
  }
  const key = keys[path[0]! % keys.length]!;
  const copy: Record<string, unknown> = Array.isArray(value) ? ([...value] as unknown as Record<string, unknown>) : { ...(value as object) };
  const inner = mutate(copy[key], path.slice(1), replacement, op);
  if (inner === undefined && !Array.isArray(copy)) delete copy[key];
  else copy[key] = inner;
  return copy;
}

const mutation = fc.tuple(fc.array(fc.nat(), { maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('set', 'delete', 'add') as fc.Arbitrary<'set' | 'delete' | 'add'>);
const url = fc.constantFrom('/v1/score', '/get_reward', '/get_reward?aggregate=sum', '/get_reward?aggregate=bogus&model=x');

describe('fuzzed request bodies', () => {
  it('well-formed bodies with arbitrary contents', async () => {
    await fc.assert(
      fc.asyncProperty(scoreBody, async (body) => expectClientOutcome({ url: '/v1/score', payload: JSON.stringify(body) })),
      { numRuns: RUNS },
    );
    await fc.assert(
      fc.asyncProperty(getRewardBody, async (body) => expectClientOutcome({ url: '/get_reward', payload: JSON.stringify(body) })),
      { numRuns: RUNS / 2 },
    );
  });

  it('valid bodies with one member replaced, removed or added', async () => {
    const valid = { model: 'tiny-logits', items: [trace(1), { id: 'r', prompt: '3+4', response: '3+4=7\nAnswer: 7' }], options: { aggregate: 'sum', token_rewards: true } };
    const validReward = { query: ['3+4\n3+4=7\nAnswer: 7'], prompts: ['3+4'], labels: [1] };
    await fc.assert(
      fc.asyncProperty(fc.boolean(), mutation, async (score, [path, replacement, op]) => {
        const body = mutate(score ? valid : validReward, path, replacement, op);
        await expectClientOutcome({ url: score ? '/v1/score' : '/get_reward', payload: JSON.stringify(body) ?? '' });
      }),
      { numRuns: RUNS },
    );
  });

  it('arbitrary JSON, arbitrary text and wrong content types', async () => {
    await fc.assert(
      fc.asyncProperty(url, fc.jsonValue({ maxDepth: 4 }), async (u, body) => expectClientOutcome({ url: u, payload: JSON.stringify(body) })),
      { numRuns: RUNS },
    );
    await fc.assert(
      fc.asyncProperty(
        url,
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'multipart/form-data'),
        async (u, payload, contentType) => expectClientOutcome({ url: u, payload, contentType }),
      ),
      { numRuns: RUNS / 2 },
    );
  });

  it('leaves the service working: a valid request succeeds afterwards', async () => {
    // Some bodies were scored (about one in eight): the fuzzing reached the models, not only the schema.
    const total = [...seen.values()].reduce((a, b) => a + b, 0);
    expect(seen.get(200) ?? 0, JSON.stringify([...seen])).toBeGreaterThanOrEqual(20);
    figure('fuzz', { requests: total, by_status: Object.fromEntries([...seen].sort((a, b) => a[0] - b[0])) });
    const res = await send({ url: '/v1/score', payload: JSON.stringify({ items: [trace(2)] }) });
    expect(res.statusCode).toBe(200);
    expect(h.scoring.load().inFlight).toBe(0);
    expect(h.scoring.readiness().ready).toBe(true);
  });
});
