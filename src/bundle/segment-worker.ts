/**
 * A thread of the segmenting pool (segment-pool.ts): the same Segmenter the event loop has, built
 * in this thread from the bundle's tokenizer files and layout, so a long text's ids are the ids
 * the event loop would have computed. A thread keeps the segmenters of the last few bundles it
 * served. Errors of the request (PrmError) come back as data: a class does not cross threads.
 */
import { LRUCache } from 'lru-cache';
import { PrmError } from '../errors.js';
import { Segmenter, type RenderedSegments, type Segments, type SegmenterLayout } from './segmenter.js';
import { loadTokenizer } from './tokenizer-files.js';

export interface SegmentTask {
  /** The bundle's fingerprint: a reload with other files or layout gets a new segmenter. */
  fingerprint: string;
  tokenizerJson: string;
  tokenizerConfig: string;
  layout: SegmenterLayout;
  method: 'segment' | 'render';
  prompt: string;
  steps: string[];
  partial: boolean;
}

export type SegmentOutcome = { value: Segments | RenderedSegments } | { error: { code: PrmError['code']; message: string } };

/** Bundles whose segmenters a thread keeps, the least recently used dropped first (a reload brings a new version of one). */
const segmenters = new LRUCache<string, Promise<Segmenter>>({ max: 16 });

function segmenterFor(task: SegmentTask): Promise<Segmenter> {
  const key = JSON.stringify([task.fingerprint, task.tokenizerJson, task.tokenizerConfig, task.layout]);
  let segmenter = segmenters.get(key);
  if (segmenter === undefined) {
    segmenter = loadTokenizer(task.tokenizerJson, task.tokenizerConfig).then((tok) => new Segmenter(tok, task.layout));
    segmenters.set(key, segmenter);
    // A failed load is not kept: the next item tries again.
    segmenter.catch(() => segmenters.delete(key));
  }
  return segmenter;
}

export default async function segmentTask(task: SegmentTask): Promise<SegmentOutcome> {
  const segmenter = await segmenterFor(task);
  try {
    return { value: segmenter[task.method](task.prompt, task.steps, { partial: task.partial }) };
  } catch (err) {
    if (err instanceof PrmError) return { error: { code: err.code, message: err.message } };
    throw err;
  }
}
