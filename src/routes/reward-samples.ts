/**
 * /get_reward's guarantee to an RL trainer: every sample gets a reward. One unscorable sample
 * (an empty response, an over-long one) must not cost the batch its rewards, and a batch larger
 * than one scoring request is split here instead of refused.
 *
 * Samples are scored in chunks of at most `maxItems`. A chunk that fails with a sample-level
 * error is halved until the failing samples stand alone (k bad samples cost O(k log n) extra
 * calls, none when all are fine); a lone over-long sample is truncated by the request's rule, any
 * other failing sample gets the fallback reward and its error code. Errors of the whole request
 * (overload, deadline, unknown model) still fail the request: a trainer retries those.
 */
import type { ItemResult, TextItemInput, ScoreOptions, ScoreResult } from '../core/types.js';
import type { Truncation } from '../config.js';
import { ErrorCode, PrmError } from '../errors.js';
import { nextTurn } from '../util/time-slices.js';

/** right: the last steps that do not fit are dropped; left: the prompt's first characters; error: none. */
export type { Truncation };

/** Samples whose chunks start in one turn of the event loop (scoreSamples): 256 cached samples take ~10–30 ms. */
const SAMPLES_PER_TURN = 256;

/** One scoring call; `signal` aborts it when another chunk of the same batch has failed. */
export type ScoreCall = (items: TextItemInput[], options: ScoreOptions, signal: AbortSignal) => Promise<ScoreResult>;
/** A scoring call within one batch, its signal already given. */
type ChunkCall = (items: TextItemInput[], options: ScoreOptions) => Promise<ScoreResult>;

export interface SampleOutcome {
  /** Present when the sample (or its truncated form) was scored. */
  result?: ItemResult;
  /** The error that made the sample take the fallback reward, or that caused its truncation. */
  error?: { code: ErrorCode; message: string };
  truncated: boolean;
}

/** Errors that belong to one sample: isolating it lets the others be scored. */
const SAMPLE_ERRORS = new Set<ErrorCode>([
  ErrorCode.EMPTY_STEPS, ErrorCode.EMPTY_STEP, ErrorCode.EMPTY_PROMPT, ErrorCode.INVALID_REQUEST,
  ErrorCode.SEQUENCE_TOO_LONG, ErrorCode.TOO_MANY_TOKENS,
]);
const TOO_LONG = new Set<ErrorCode>([ErrorCode.SEQUENCE_TOO_LONG, ErrorCode.TOO_MANY_TOKENS]);

function sampleError(err: unknown): PrmError | undefined {
  return err instanceof PrmError && SAMPLE_ERRORS.has(err.code) ? err : undefined;
}

async function scoreOne(call: ChunkCall, item: TextItemInput, options: ScoreOptions): Promise<ItemResult> {
  return (await call([item], options)).results[0]!;
}

/** The largest n in [lo, hi] for which `fits(n)` scores, by bisection; undefined when none does. */
async function largestFitting(lo: number, hi: number, fits: (n: number) => Promise<ItemResult | undefined>) {
  let best: ItemResult | undefined;
  while (lo <= hi) {
    const mid = Math.floor((lo + hi) / 2);
    const r = await fits(mid);
    if (r) [best, lo] = [r, mid + 1];
    else hi = mid - 1;
  }
  return best;
}

async function truncated(call: ChunkCall, item: TextItemInput, options: ScoreOptions, rule: Truncation) {
  const attempt = async (candidate: TextItemInput, opts: ScoreOptions) => {
    try {
      return await scoreOne(call, candidate, opts);
    } catch (err) {
      if (sampleError(err) && TOO_LONG.has((err as PrmError).code)) return undefined;
      throw err;
    }
  };
  const steps = item.steps ?? [];
  if (rule === 'right') {
    // The kept steps are scored as a trace that goes on (no EOS): the text was cut, not finished.
    return largestFitting(1, steps.length - 1, (n) => attempt({ ...item, steps: steps.slice(0, n) }, { ...options, partial: true }));
  }
  if (rule === 'left') {
    const prompt = item.prompt;
    return largestFitting(1, prompt.length - 1, (n) => attempt({ ...item, prompt: prompt.slice(prompt.length - n) }, options));
  }
  return undefined;
}

async function alone(call: ChunkCall, item: TextItemInput, options: ScoreOptions, rule: Truncation): Promise<SampleOutcome> {
  try {
    return { result: await scoreOne(call, item, options), truncated: false };
  } catch (err) {
    const e = sampleError(err);
    if (!e) throw err;
    const error = { code: e.code, message: e.message };
    const result = TOO_LONG.has(e.code) ? await truncated(call, item, options, rule) : undefined;
    return result ? { result, error, truncated: true } : { error, truncated: false };
  }
}

async function chunk(call: ChunkCall, items: TextItemInput[], options: ScoreOptions, rule: Truncation): Promise<SampleOutcome[]> {
  if (items.length === 1) return [await alone(call, items[0]!, options, rule)];
  try {
    return (await call(items, options)).results.map((result) => ({ result, truncated: false }));
  } catch (err) {
    if (!sampleError(err)) throw err;
    const half = Math.ceil(items.length / 2);
    return [...(await chunk(call, items.slice(0, half), options, rule)), ...(await chunk(call, items.slice(half), options, rule))];
  }
}

/**
 * One outcome per item, in order. The chunks of a batch are one request to the queue: they are
 * started together, so they are admitted (or refused) together instead of one after another while
 * other requests come between them, and when one fails with an error of the whole request the
 * others are aborted, so their queued rows leave instead of spending the engine on an answer that
 * will not be sent. "Together" is up to SAMPLES_PER_TURN samples per turn of the event loop: a
 * chunk whose work is all cached completes in promise callbacks alone, so a batch of thousands of
 * samples started in one turn runs as one task of hundreds of milliseconds.
 */
export async function scoreSamples(call: ScoreCall, items: TextItemInput[], options: ScoreOptions, maxItems: number, rule: Truncation): Promise<SampleOutcome[]> {
  const together = new AbortController();
  const onNewTurn: ChunkCall = async (chunkItems, opts) => {
    await nextTurn();
    return call(chunkItems, opts, together.signal);
  };
  const chunks: Promise<SampleOutcome[]>[] = [];
  for (let i = 0; i < items.length && !together.signal.aborted; i += maxItems) {
    if (i > 0 && Math.floor(i / SAMPLES_PER_TURN) > Math.floor((i - maxItems) / SAMPLES_PER_TURN)) await nextTurn();
    const started = chunk(onNewTurn, items.slice(i, i + maxItems), options, rule);
    // Handled at once: a chunk may fail while later ones are still being started.
    started.catch((err: unknown) => together.abort(err));
    chunks.push(started);
  }
  return (await Promise.all(chunks)).flat();
}
