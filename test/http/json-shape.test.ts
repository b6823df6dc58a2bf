/**
 * The look at a body's bytes before JSON.parse (src/http/json-shape.ts): nesting, the longest array
 * and the count of values are found without parsing, strings (escaped quotes, brackets and commas
 * inside them) skipped; and through the real app, bodies of millions of values or nested arrays —
 * which JSON.parse takes hundreds of milliseconds to seconds of the event loop to build — are
 * refused with their own message, while the largest bodies the limits allow are parsed as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonShapeLimitsOf } from '../../src/config.js';
import { checkJsonShape } from '../../src/http/json-shape.js';
import { buildLoadedApp, testConfig, type TestApp } from '../harness/app.js';

const limits = { maxDepth: 3, maxArrayLength: 4, maxValues: 10, maxStrings: 8 };
const check = (text: string) => () => checkJsonShape(Buffer.from(text), limits);

describe('checkJsonShape', () => {
  it('counts array elements, values and nesting outside strings only', () => {
    expect(check('{"a":[1,2,3,4],"b":"[[[[,,,,,,,,,,]]]]\\\\","c":"\\"[[[[,,,,,"}')).not.toThrow();
    expect(check('[1,2,3,4,5]')).toThrow(/an array of more than 4 elements/);
    expect(check('{"a":[1,2,3],"b":[1,2,3],"c":[1,2,3],"d":[1,2]}')).toThrow(/more than 10 values/);
    expect(check('{"a":["x","y"],"b":["x","y","z"]}')).not.toThrow();
    expect(check('{"a":["x","y","z"],"b":["x","y","z","w"]}')).toThrow(/more than 8 strings/);
    expect(check('[[[1]]]')).not.toThrow();
    expect(check('[[[[1]]]]')).toThrow(/more than 3 deep/);
    // Object members are values but not array elements.
    expect(check('{"a":1,"b":2,"c":3,"d":4,"e":5}')).not.toThrow();
  });

  it('leaves what is not JSON to the parser', () => {
    expect(check('"unterminated [[[[[')).not.toThrow();
    expect(check(']]]]}}},')).not.toThrow();
  });

  it('allows every array and value a request within the default limits may have', () => {
    const l = jsonShapeLimitsOf(testConfig());
    expect(l.maxArrayLength).toBe(16_384);
    expect(l.maxValues).toBeGreaterThanOrEqual(2 * 262_144);
    expect(l.maxStrings).toBeGreaterThanOrEqual(262_144 + 256 * 4);
  });
});

describe('bodies no request needs, through the app', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildLoadedApp();
  });
  afterAll(() => t?.close());

  const post = (url: string, payload: string) => t.app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json' } });

  it('refuses nesting a million deep with 400, before parsing', async () => {
    const r = await post('/v1/score', `${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`);
    expect([r.statusCode, r.json().error.code]).toEqual([400, 'INVALID_REQUEST']);
    expect(r.json().error.message).toMatch(/nests arrays and objects more than 32 deep/);
  });

  it('refuses a million token ids and a hundred thousand /get_reward queries with 413, before parsing', async () => {
    const ids = `[${'1,'.repeat(999_999)}1]`;
    const r = await post('/v1/score', `{"items":[{"prompt_ids":${ids},"response_ids":[5],"step_ends":[1]}]}`);
    expect([r.statusCode, r.json().error.code]).toEqual([413, 'BODY_TOO_LARGE']);
    expect(r.json().error.message).toMatch(/an array of more than 16384 elements/);
    const q = await post('/get_reward', `{"query":[${'"1\\n2",'.repeat(99_999)}"1\\n2"]}`);
    expect([q.statusCode, q.json().error.code]).toEqual([413, 'BODY_TOO_LARGE']);
  });

  it('decodes a large body a slice at a time, exactly, and refuses bytes that are not UTF-8 in any slice', async () => {
    // 3-byte and 4-byte characters: slice boundaries fall inside them.
    const prompt = '数🙂é'.repeat(300_000);
    const r = await post('/v1/score', JSON.stringify({ items: [{ prompt, steps: ['1'] }] }));
    expect([r.statusCode, r.json().error.code]).toEqual([413, 'SEQUENCE_TOO_LONG']);
    expect(r.json().error.message).toContain(`the text has ${prompt.length + 1} characters`);
    const bytes = Buffer.from(JSON.stringify({ items: [{ prompt: 'x'.repeat(3_000_000), steps: ['1'] }] }));
    bytes[2_500_000] = 0xff;
    const bad = await t.app.inject({ method: 'POST', url: '/v1/score', payload: bytes, headers: { 'content-type': 'application/json' } });
    expect([bad.statusCode, bad.json().error]).toEqual([400, { code: 'INVALID_JSON', message: 'request body is not valid UTF-8' }]);
  });

  it('refuses a body of more strings than a request\'s tokens before it is parsed', async () => {
    // 256 items of 2 000 one-token steps: every array fits, but 512 000 steps are more than 262 144 tokens.
    const item = JSON.stringify({ prompt: '1', steps: Array.from({ length: 2000 }, () => '1') });
    const r = await post('/v1/score', `{"items":[${Array(256).fill(item).join(',')}]}`);
    expect([r.statusCode, r.json().error.code]).toEqual([413, 'BODY_TOO_LARGE']);
    expect(r.json().error.message).toMatch(/more than \d+ strings/);
  });

  it('parses a body at the array limit as before', async () => {
    const r = await post('/tokenize', JSON.stringify({ items: [{ prompt: '1', steps: Array.from({ length: 16_384 }, () => '1') }] }));
    // Parsed, and refused by the tokenize stage: more steps than tiny-logprobs' 256 tokens.
    expect([r.statusCode, r.json().error.code]).toEqual([413, 'SEQUENCE_TOO_LONG']);
    expect(r.json().error.message).toMatch(/16384 steps are more than the 256 tokens this model takes/);
  });
});
