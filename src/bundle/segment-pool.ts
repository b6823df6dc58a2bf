/**
 * Long texts tokenized off the event loop. Tokenizing is synchronous: a 32k-token prompt takes a
 * Qwen tokenizer ~65 ms, and nothing else runs on the event loop meanwhile (probes, other
 * requests, the engine's results). Items with at least OFFLOAD_CHARS of text are segmented by a
 * pool of threads (piscina), each holding the same Segmenter built from the bundle's files
 * (segment-worker.ts), so their ids are the ones the event loop would compute; shorter items are
 * cheaper to tokenize in place than to send. A thread loads a bundle's tokenizer on its first item
 * of that bundle (warm() does it at load time).
 */
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { PrmError } from '../errors.js';
import type { Manifest } from './manifest.js';
import type { RenderedSegments, Segments, SegmenterLayout } from './segmenter.js';
import type { SegmentOutcome, SegmentTask } from './segment-worker.js';

/** Items with this much text (prompt and steps, in UTF-16 units) are segmented by the pool. */
export const OFFLOAD_CHARS = 16 * 1024;

/** What the pool needs of a loaded bundle. */
export interface PooledBundle {
  dir: string;
  manifest: Manifest;
  /** Identifies the tokenizer files and layout: a reloaded bundle is a new segmenter. */
  fingerprint: string;
}

/**
 * The Segmenter's two calls, answered by a thread of the pool. `signal` calls an item off: a thread
 * that has started it is stopped (and replaced), so a request past its deadline holds no thread.
 */
export interface OffloadedSegmenter {
  segment(prompt: string, steps: string[], opts: OffloadOptions): Promise<Segments>;
  render(prompt: string, steps: string[], opts: OffloadOptions): Promise<RenderedSegments>;
}

export interface OffloadOptions {
  partial: boolean;
  signal?: AbortSignal;
}

function layoutOf(manifest: Manifest): SegmenterLayout {
  const { step_separator, prompt_template, use_chat_template, append_eos, max_sequence_length, step_boundaries } = manifest;
  return { step_separator, prompt_template, use_chat_template, append_eos, max_sequence_length, step_boundaries };
}

export class SegmentPool {
  private readonly pool: Piscina<SegmentTask, SegmentOutcome>;

  constructor(readonly threads: number) {
    // This module's own extension: .ts when the service runs from source (the thread then needs
    // tsx too), .js when it runs compiled.
    const worker = new URL(`./segment-worker${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url);
    this.pool = new Piscina({
      filename: worker.href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      ...(worker.pathname.endsWith('.ts') ? { execArgv: ['--import', 'tsx'] } : {}),
    });
  }

  /** The bundle's segmenter, run by the pool. */
  segmenterOf(bundle: PooledBundle): OffloadedSegmenter {
    const base = {
      tokenizerJson: join(bundle.dir, bundle.manifest.tokenizer.tokenizer_json),
      tokenizerConfig: join(bundle.dir, bundle.manifest.tokenizer.tokenizer_config),
      layout: layoutOf(bundle.manifest),
      fingerprint: bundle.fingerprint,
    };
    const run = async (method: SegmentTask['method'], prompt: string, steps: string[], opts: OffloadOptions) => {
      const outcome = await this.pool.run({ ...base, method, prompt, steps, partial: opts.partial }, { signal: opts.signal });
      if ('error' in outcome) throw new PrmError(outcome.error.code, outcome.error.message);
      return outcome.value;
    };
    return {
      segment: (prompt, steps, opts) => run('segment', prompt, steps, opts) as Promise<Segments>,
      render: (prompt, steps, opts) => run('render', prompt, steps, opts) as Promise<RenderedSegments>,
    };
  }

  /** Has every thread load the bundle's tokenizer now rather than on its first long item. */
  async warm(bundle: PooledBundle): Promise<void> {
    const segmenter = this.segmenterOf(bundle);
    // One task per thread at once: each idle thread takes one.
    await Promise.all(Array.from({ length: this.threads }, () => segmenter.segment('warm-up', ['1'], { partial: false })));
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
