/**
 * Request items → token segments, the first stage of scoring. Its output is all the later stages
 * (caches, batcher, engine, rewards) need, so they never see text.
 */
import type { Segmenter } from '../bundle/segmenter.js';
import { PrmError } from '../errors.js';
import type { ScoreItemInput } from './types.js';

export interface PreparedItem {
  /** The item's id, or its index in the request as a string. */
  id: string;
  /** [prompt segment, step 1, ..., step n] token ids. */
  segments: (readonly number[])[];
  promptTokens: number;
  /** Token count of each step segment (separator and EOS included). */
  stepTokens: number[];
  responseTokens: number;
  /** The trace will be extended (a `partial` request): its KV is worth keeping in tier 2. */
  continues: boolean;
}

export interface PrepareOptions {
  /** The trace continues after its last step (see ScoreOptions.partial). */
  partial?: boolean;
}

/** Segments every item; an item's error names the item (e.g. `items[2]: step 1 of 3 ...`). */
export function prepareItems(segmenter: Segmenter, items: readonly ScoreItemInput[], opts: PrepareOptions = {}): PreparedItem[] {
  return items.map((item, index) => {
    try {
      const steps = segmenter.stepsOf(item);
      const seg = segmenter.segment(item.prompt, steps, { partial: opts.partial });
      const stepTokens = seg.steps.map((s) => s.length);
      return {
        id: item.id ?? String(index),
        segments: [seg.prompt, ...seg.steps],
        promptTokens: seg.prompt.length,
        stepTokens,
        responseTokens: stepTokens.reduce((a, b) => a + b, 0),
        continues: opts.partial === true,
      };
    } catch (err) {
      if (err instanceof PrmError) {
        const label = item.id === undefined ? `items[${index}]` : `items[${index}] (id ${JSON.stringify(item.id)})`;
        throw new PrmError(err.code, `${label}: ${err.message}`, { cause: err });
      }
      throw err;
    }
  });
}
