/** Segmentation + tokenization with the real @huggingface/tokenizers on the character-level test tokenizer. */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Segmenter, type SegmenterLayout } from '../../src/bundle/segmenter.js';
import { splitResponse, stepsOf } from '../../src/core/prepare-items.js';
import { loadTokenizer, type TokenizerBundle } from '../../src/bundle/tokenizer-files.js';
import { BUNDLES_DIR, SPECIAL, charIds } from '../fixtures/analytic/closed-form.js';

const LAYOUT: SegmenterLayout = {
  step_separator: '\n',
  prompt_template: 'Q: {prompt}\nA:\n',
  use_chat_template: false,
  append_eos: true,
  max_sequence_length: 64,
};

let plain: TokenizerBundle;
let chat: TokenizerBundle;
beforeAll(async () => {
  const dir = join(BUNDLES_DIR, 'bigram-logprobs');
  plain = await loadTokenizer(join(dir, 'tokenizer.json'), join(dir, 'tokenizer_config.json'));
  const chatDir = join(BUNDLES_DIR, 'bigram-ref-free');
  chat = await loadTokenizer(join(chatDir, 'tokenizer.json'), join(chatDir, 'tokenizer_config.json'));
});

describe('splitResponse', () => {
  it('splits at every separator and drops exactly one trailing separator', () => {
    expect(splitResponse('a\nb\nc', '\n')).toEqual(['a', 'b', 'c']);
    expect(splitResponse('a\nb\n', '\n')).toEqual(['a', 'b']);
    expect(splitResponse('a\nb\n\n', '\n')).toEqual(['a', 'b', '']);
    expect(splitResponse('a\n\nb', '\n')).toEqual(['a', '', 'b']);
    expect(splitResponse('a;; b;; ', ';; ')).toEqual(['a', 'b']);
    expect(splitResponse('', '\n')).toEqual([]);
    expect(splitResponse('\n', '\n')).toEqual(['']);
  });
});

describe('Segmenter', () => {
  it('tokenizes the templated prompt and each step alone; the last step gets EOS, not the separator', () => {
    const s = new Segmenter(plain, LAYOUT);
    const seg = s.segment('1+1', ['1+1=2', 'so 2']);
    expect(seg.prompt).toEqual(charIds('Q: 1+1\nA:\n'));
    expect(seg.steps).toEqual([charIds('1+1=2\n'), [...charIds('so 2'), SPECIAL.eos]]);
  });

  it('keeps "$" patterns in the prompt verbatim and fills every {prompt}', () => {
    const s = new Segmenter(plain, { ...LAYOUT, prompt_template: '{prompt}={prompt}' });
    expect(s.renderPrompt('$&a')).toBe('$&a=$&a');
    expect(s.segment('ab', ['c']).prompt).toEqual(charIds('ab=ab'));
  });

  it('without append_eos the last step is its text alone; partial gives every step the separator', () => {
    const s = new Segmenter(plain, { ...LAYOUT, append_eos: false });
    expect(s.segment('q', ['a', 'b']).steps).toEqual([charIds('a\n'), charIds('b')]);
    const e = new Segmenter(plain, LAYOUT);
    expect(e.segment('q', ['a', 'b'], { partial: true }).steps).toEqual([charIds('a\n'), charIds('b\n')]);
  });

  it('renders the chat template with bos, the user message and the generation prompt', () => {
    const s = new Segmenter(chat, { ...LAYOUT, use_chat_template: true, prompt_template: '', step_separator: '\n\n', append_eos: false });
    expect(s.renderPrompt('hi')).toBe('<s><|user|>hi\n<|assistant|>');
    expect(s.segment('hi', ['a', 'b']).prompt).toEqual([SPECIAL.bos, SPECIAL.user, ...charIds('hi\n'), SPECIAL.assistant]);
    expect(s.segment('hi', ['a', 'b']).steps).toEqual([charIds('a\n\n'), charIds('b')]);
  });

  it('a response split by the separator gives the same segments as the explicit steps', () => {
    const s = new Segmenter(plain, LAYOUT);
    const explicit = s.segment('q', stepsOf({ steps: ['a b', 'c'] }, '\n'));
    expect(s.segment('q', stepsOf({ response: 'a b\nc' }, '\n'))).toEqual(explicit);
    expect(s.segment('q', stepsOf({ response: 'a b\nc\n' }, '\n'))).toEqual(explicit);
  });

  it('refuses layouts the tokenizer cannot serve', () => {
    expect(() => new Segmenter(plain, { ...LAYOUT, use_chat_template: true })).toThrow(/no chat_template/);
    expect(() => new Segmenter({ ...plain, eosId: undefined, eosToken: undefined }, LAYOUT)).toThrow(/no eos_token/);
    expect(() => new Segmenter({ ...plain, eosId: undefined, eosToken: '<end>' }, LAYOUT)).toThrow(/"<end>" is not in the tokenizer vocabulary/);
  });
});

describe('Segmenter errors', () => {
  const s = (): Segmenter => new Segmenter(plain, LAYOUT);

  it('INVALID_REQUEST when both or neither of steps and response are given', () => {
    expect(() => stepsOf({ steps: ['a'], response: 'a' }, '\n')).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
    expect(() => stepsOf({}, '\n')).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });

  it('EMPTY_STEPS for no steps or an empty response', () => {
    expect(() => stepsOf({ steps: [] }, '\n')).toThrow(expect.objectContaining({ code: 'EMPTY_STEPS' }));
    expect(() => stepsOf({ response: '' }, '\n')).toThrow(expect.objectContaining({ code: 'EMPTY_STEPS' }));
    expect(() => s().segment('q', [])).toThrow(expect.objectContaining({ code: 'EMPTY_STEPS' }));
  });

  it('EMPTY_STEP for a step that tokenizes to nothing, even though its separator would add tokens', () => {
    expect(() => s().segment('q', ['a', '', 'b'])).toThrow(expect.objectContaining({ code: 'EMPTY_STEP', message: expect.stringContaining('step 2 of 3') }));
    expect(() => s().segment('q', ['a', ''])).toThrow(expect.objectContaining({ code: 'EMPTY_STEP' }));
    expect(() => s().segment('q', stepsOf({ response: 'a\n\nb' }, '\n'))).toThrow(expect.objectContaining({ code: 'EMPTY_STEP' }));
  });

  it('EMPTY_PROMPT when the rendered prompt has no tokens', () => {
    const bare = new Segmenter(plain, { ...LAYOUT, prompt_template: '{prompt}' });
    expect(() => bare.segment('', ['a'])).toThrow(expect.objectContaining({ code: 'EMPTY_PROMPT' }));
    expect(bare.segment('x', ['a']).prompt).toEqual(charIds('x'));
  });

  it('SEQUENCE_TOO_LONG past max_sequence_length, counting prompt, separators and EOS', () => {
    const small = new Segmenter(plain, { ...LAYOUT, prompt_template: '{prompt}', max_sequence_length: 6 });
    // 2 (prompt) + 2 ("a\n") + 2 ("b" + EOS) = 6 tokens: allowed; one more character is not.
    expect(small.segment('pq', ['a', 'b']).steps).toEqual([charIds('a\n'), [...charIds('b'), SPECIAL.eos]]);
    expect(() => small.segment('pqr', ['a', 'b'])).toThrow(expect.objectContaining({ code: 'SEQUENCE_TOO_LONG', message: expect.stringContaining('7 tokens') }));
  });
});
