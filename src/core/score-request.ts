/**
 * One scoring call as a short list of stages over one request context:
 *
 *   admit → lease bundle → tokenize → log-probs (plan rows against the caches, run, store)
 *   → rewards → respond
 *
 * Admission happens before any model work: a concurrency permit (at most maxConcurrentRequests
 * calls in flight, counted until the call's work has really stopped; unlimited unless the
 * embedder sets it — over HTTP requests are bounded before their body is read), token limits
 * checked while tokenizing, and the queue's admission of the request's rows as a whole. The lease
 * keeps the bundle version the call resolved alive through a hot reload until the call is done.
 */
import { throwIfAborted } from '../abort.js';
import type { LoadedBundle } from '../bundle/load-bundle.js';
import { ErrorCode, PrmError } from '../errors.js';
import { metrics } from '../metrics.js';
import type { BundleRegistry } from './bundle-registry.js';
import { EngineLedger } from './engine-ledger.js';
import type { BundlePipelines, ItemLogprobs } from './logprob-pipeline.js';
import { prepareItems, type PreparedItem } from './prepare-items.js';
import type { SegmentPool } from '../bundle/segment-pool.js';
import { nestedSpans } from '../bundle/step-spans.js';
import { rewardSummary, stepsOf, tokenRewardsOf } from './rewards.js';
import { AGGREGATES, type Aggregate, type ItemResult, type ModelSummary, type ScoreItemInput, type ScoreOptions, type ScoreResult, type ScoringService } from './types.js';
import { builtWhenRead } from '../util/built-when-read.js';
import { mapInSlices } from '../util/time-slices.js';

/** Per-call limits; each defaults to none. */
export interface RequestLimits {
  /** Scoring calls in flight before new ones get OVERLOADED (HTTP bounds its requests itself). */
  maxConcurrentRequests?: number;
  /** Prompt + response tokens per item and per call before TOO_MANY_TOKENS. */
  maxTokensPerItem?: number;
  maxTokensPerRequest?: number;
}

export interface ResolvedOptions {
  aggregate: Aggregate;
  tokenRewards: boolean;
  beta: number;
  partial: boolean;
}

/**
 * Largest β a request may ask for. Rewards are β times sums of float32 log-probs; far beyond any
 * useful β (papers use 0.001–0.05) they overflow to ±Infinity, which JSON cannot carry. Below this
 * bound they stay finite for any sequence the service accepts.
 */
export const MAX_BETA = 1e6;

/** Checks request options against the bundle; throws INVALID_OPTION naming the option. */
export function resolveOptions(options: ScoreOptions, bundleBeta: number): ResolvedOptions {
  const aggregate = options.aggregate ?? 'min';
  if (!AGGREGATES.includes(aggregate)) {
    throw new PrmError(ErrorCode.INVALID_OPTION, `options.aggregate must be one of ${AGGREGATES.join(', ')} (got ${JSON.stringify(aggregate)})`);
  }
  const beta = options.beta ?? bundleBeta;
  if (typeof beta !== 'number' || !Number.isFinite(beta) || beta <= 0 || beta > MAX_BETA) {
    throw new PrmError(ErrorCode.INVALID_OPTION, `options.beta must be a number > 0 and ≤ ${MAX_BETA} (got ${JSON.stringify(options.beta)})`);
  }
  return { aggregate, tokenRewards: options.token_rewards === true, beta, partial: options.partial === true };
}

export function summaryOf(b: LoadedBundle, beta = b.manifest.beta): ModelSummary {
  return { name: b.name, fingerprint: b.fingerprint, beta, reference_free: b.reference === null };
}

/**
 * Rewards of one item from its log-probs (cached or fresh: same inputs, same numbers). The score
 * is computed now; the steps and the per-token arrays are made when the answer's serializer reads
 * them (built-when-read.ts), from the q_k and the log-probs the item keeps.
 */
export function itemResult(item: PreparedItem, lp: ItemLogprobs, o: ResolvedOptions): ItemResult {
  const input = { policy: lp.policy, reference: lp.reference, stepTokens: item.stepTokens, beta: o.beta };
  const summary = rewardSummary(input, o.aggregate);
  const out: ItemResult = { id: item.id, score: summary.score, outcome_reward: summary.outcome_reward, steps: [], cached_tokens: lp.cachedTokens };
  builtWhenRead(out, 'steps', () => stepsOf(summary.q, item.stepTokens));
  if (o.tokenRewards) {
    builtWhenRead(out, 'token_rewards', () => tokenRewardsOf(input));
    const stepIds = item.segments.slice(1);
    const spans = item.rendered?.stepOffsets ?? null;
    builtWhenRead(out, 'token_ids', () => stepIds.map((ids) => [...ids]));
    builtWhenRead(out, 'token_offsets', () => nestedSpans(spans));
  }
  return out;
}

/** The concurrency permit: a call counts from admission until its work has stopped. */
export class Admission {
  private count = 0;

  constructor(private readonly max = Number.POSITIVE_INFINITY) {}

  get inFlight(): number {
    return this.count;
  }

  /** Counts the call in, or refuses it with OVERLOADED; returns the function that counts it out. */
  admit(): () => void {
    if (this.count >= this.max) {
      metrics.rejected.inc({ reason: 'overloaded' });
      throw new PrmError(ErrorCode.OVERLOADED, `${this.count} scoring requests are in flight (the limit); retry shortly`, { retryAfterS: 1 });
    }
    this.count++;
    return () => void this.count--;
  }
}

/** What the stages share: the service's parts, fixed when it is built. */
export interface ScoreDeps {
  registry: BundleRegistry;
  pipelines: BundlePipelines;
  admission: Admission;
  limits: RequestLimits;
  /** Where requests that name no model go. */
  defaultModel(): string | undefined;
  /** Threads that segment long items off the event loop; none: they are segmented in place. */
  segmentPool?: SegmentPool;
}

/** One call as it moves through the stages. */
interface ScoreContext {
  bundle: LoadedBundle;
  options: ResolvedOptions;
  signal?: AbortSignal;
  deadlineAt?: number;
  ledger: EngineLedger;
  startedAt: number;
  prepared: PreparedItem[];
  tokenizedAt: number;
  logprobs: ItemLogprobs[];
  queueMs: number;
  computedAt: number;
}

/** The service's score method: every call runs scoreRequest over the same parts. */
export function scorer(deps: ScoreDeps): ScoringService['score'] {
  return (model, items, options, signal, deadlineAt) => scoreRequest(deps, model, items, options, { signal, deadlineAt });
}

/** The call's end conditions: the client's signal and the deadline (performance.now() time). */
interface CallBounds {
  signal?: AbortSignal;
  deadlineAt?: number;
}

export async function scoreRequest(
  deps: ScoreDeps,
  model: string | undefined,
  items: ScoreItemInput[],
  options: ScoreOptions,
  call: CallBounds = {},
): Promise<ScoreResult> {
  const leave = deps.admission.admit();
  const ledger = new EngineLedger();
  try {
    const startedAt = performance.now();
    throwIfAborted(call.signal);
    const bundle = deps.registry.resolve(model ?? deps.defaultModel());
    // Taken in the same tick as the lookup: a reload cannot dispose this version before release.
    const returnLease = deps.registry.lease(bundle);
    try {
      // A backlog that alone outlasts the deadline refuses the call before it is tokenized.
      const refusal = deps.pipelines.of(bundle).batcher.backlogRefusal(call.deadlineAt);
      if (refusal) throw refusal;
      const tokenized = await tokenize(deps, bundle, items, resolveOptions(options, bundle.manifest.beta), { ...call, ledger, startedAt });
      const computed = await computeLogprobs(deps, tokenized);
      // In slices: the rewards of hundreds of long traces take tens of milliseconds.
      const results = await mapInSlices(computed.prepared, (item, i) => itemResult(item, computed.logprobs[i], computed.options));
      throwIfAborted(call.signal);
      const result = respond(computed, results);
      ledger.settle('succeeded');
      return result;
    } finally {
      returnLease();
    }
  } catch (err) {
    countRefusal(err, call.signal);
    ledger.settle('failed');
    throw err;
  } finally {
    leave();
  }
}

/**
 * What a call due by `deadlineAt` gets from the queues on their backlog alone, before anything of
 * it is known: the refusal of the bundle whose backlog drains first when every ready bundle
 * refuses, else null. The same check every call makes again before it is tokenized, with its own
 * bundle and deadline, so asking early never refuses a call that would have been admitted.
 */
export function backlogRefusal(deps: ScoreDeps, deadlineAt: number): PrmError | null {
  let first: PrmError | null = null;
  for (const bundle of deps.registry.ready()) {
    const refusal = deps.pipelines.of(bundle).batcher.backlogRefusal(deadlineAt);
    if (refusal === null) return null;
    if (first === null || (refusal.retryAfterS ?? 0) < (first.retryAfterS ?? 0)) first = refusal;
  }
  return first;
}

/**
 * A request the queue refused is counted once here, not per row; a deadline its own size could
 * not meet is counted as the deadline's. A call that ended because its signal aborted was not
 * refused itself: the request signal counts the deadlines that pass, and a /get_reward chunk
 * called off because another chunk was refused carries that chunk's error.
 */
function countRefusal(err: unknown, signal: AbortSignal | undefined): void {
  if (!(err instanceof PrmError) || signal?.aborted) return;
  if (err.code === ErrorCode.OVERLOADED) metrics.rejected.inc({ reason: 'overloaded' });
  else if (err.code === ErrorCode.DEADLINE_EXCEEDED) metrics.rejected.inc({ reason: 'deadline' });
}

async function tokenize(
  deps: ScoreDeps,
  bundle: LoadedBundle,
  items: ScoreItemInput[],
  options: ResolvedOptions,
  call: CallBounds & { ledger: EngineLedger; startedAt: number },
): Promise<Omit<ScoreContext, 'logprobs' | 'queueMs' | 'computedAt'>> {
  const prepared = await prepareStage(deps, bundle, items, { partial: options.partial, render: options.tokenRewards }, call.signal);
  const tokenizedAt = performance.now();
  throwIfAborted(call.signal);
  return { bundle, options, ...call, prepared, tokenizedAt };
}

/**
 * The tokenize stage's items under the request limits: what /v1/score scores, and what /tokenize
 * shows. Token ids are checked against the model's vocab_size (the reference has the same one).
 */
export function prepareStage(
  deps: ScoreDeps,
  bundle: LoadedBundle,
  items: readonly ScoreItemInput[],
  opts: { partial: boolean; render: boolean },
  signal?: AbortSignal,
): Promise<PreparedItem[]> {
  const { maxTokensPerItem, maxTokensPerRequest } = deps.limits;
  const vocabSize = bundle.manifest.policy.vocab_size;
  const offload = deps.segmentPool?.segmenterOf(bundle);
  return prepareItems(bundle.segmenter, items, { ...opts, vocabSize, maxTokensPerItem, maxTokensPerRequest, signal, offload });
}

async function computeLogprobs(deps: ScoreDeps, ctx: Omit<ScoreContext, 'logprobs' | 'queueMs' | 'computedAt'>): Promise<ScoreContext> {
  const { items: logprobs, queueMs } = await deps.pipelines.of(ctx.bundle).compute(ctx.prepared, ctx.signal, { deadlineAt: ctx.deadlineAt, ledger: ctx.ledger });
  const computedAt = performance.now();
  throwIfAborted(ctx.signal);
  return { ...ctx, logprobs, queueMs, computedAt };
}

/** Usage, metrics and timings around the results. */
function respond(ctx: ScoreContext, results: ItemResult[]): ScoreResult {
  const { bundle, prepared, logprobs } = ctx;
  let promptTokens = 0;
  let responseTokens = 0;
  let cachedTokens = 0;
  prepared.forEach((p, i) => {
    promptTokens += p.promptTokens;
    responseTokens += p.responseTokens;
    cachedTokens += logprobs[i].cachedTokens;
  });
  metrics.itemsScored.inc({ model: bundle.name }, prepared.length);
  metrics.tokensScored.inc({ model: bundle.name, source: 'computed' }, responseTokens - cachedTokens);
  if (cachedTokens > 0) metrics.tokensScored.inc({ model: bundle.name, source: 'cached' }, cachedTokens);
  return {
    model: summaryOf(bundle, ctx.options.beta),
    results,
    usage: { items: prepared.length, prompt_tokens: promptTokens, response_tokens: responseTokens, cached_tokens: cachedTokens },
    timings: {
      tokenize_ms: ctx.tokenizedAt - ctx.startedAt,
      queue_ms: ctx.queueMs,
      infer_ms: Math.max(0, ctx.computedAt - ctx.tokenizedAt - ctx.queueMs),
      total_ms: performance.now() - ctx.startedAt,
    },
  };
}
