/**
 * The ScoringService the HTTP layer calls: resolves the model, then runs the stages
 *   prepareItems (segment + tokenize) → computeLogprobs (engine) → computeRewards (maths)
 * and fills usage and timings. Bundles load in the background (bundle-registry.ts); the service
 * object exists at once so the server can answer liveness and readiness while they load.
 *
 * Admission happens here, before any model work: a concurrency permit (at most
 * maxConcurrentRequests calls in flight, counted until the call's work has really stopped, so the
 * memory held by scoring is bounded) and token limits checked right after tokenization.
 */
import { batcherOptionsOf, loadConfig } from '../config.js';
import { ErrorCode, PrmError } from '../errors.js';
import type { Device, EngineThreads } from '../engine/execution-provider.js';
import type { Logger } from '../logger.js';
import { throwIfAborted } from '../abort.js';
import { metrics } from '../metrics.js';
import type { LoadedBundle } from '../bundle/load-bundle.js';
import { BundleRegistry, ReloadError, type ReloadOutcome } from './bundle-registry.js';
import { LogprobPipeline, type ItemLogprobs } from './logprob-pipeline.js';
import type { BatcherOptions } from '../batching/batcher.js';
import { tokenBudget } from '../batching/token-budget.js';
import { MemoryLogprobCache, type LogprobCache } from '../cache/logprob-cache.js';
import { KvPrefixCache } from '../cache/kv-prefix-cache.js';
import { prepareItems, type PreparedItem } from './prepare-items.js';
import { computeRewards } from './rewards.js';
import {
  AGGREGATES,
  type Aggregate,
  type ItemResult,
  type ModelInfo,
  type ModelSummary,
  type Readiness,
  type ScoreItemInput,
  type ScoreOptions,
  type ScoreResult,
  type ScoringService,
} from './types.js';

export interface ScoringServiceOptions {
  modelsDir: string;
  /** Model used when a request names none; default: the only bundle, or the first by name. */
  defaultModel?: string;
  device: Device;
  /** Default: worker (see src/engine/open-model.ts). */
  engineThreads?: EngineThreads;
  intraOpThreads?: number;
  interOpThreads?: number;
  /** Default off (see SessionOptions). */
  intraOpSpinning?: boolean;
  /** TRUST_BUNDLE_FINGERPRINT (see LoadOptions in load-bundle.ts). */
  trustFingerprint?: boolean;
  logger: Logger;
  /** Tier 1 (log-probs per segment); default: an in-process LRU of CACHE_MAX_BYTES's default size. */
  tier1?: LogprobCache;
  /** Tier 2 (KV of prefixes), shared by all bundles; null disables it; default: KV_CACHE_MAX_BYTES's default size. */
  tier2?: KvPrefixCache | null;
  batching?: BatcherOptions;
  /** Scoring calls in flight before new ones get OVERLOADED; default: no limit. */
  maxConcurrentRequests?: number;
  /** Prompt + response tokens per item and per call before TOO_MANY_TOKENS; default: no limit. */
  maxTokensPerItem?: number;
  maxTokensPerRequest?: number;
}

/** Settings of a service built without a config (tests, embedding): the config's own defaults. */
const DEFAULTS = loadConfig({});

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

export function infoOf(b: LoadedBundle): ModelInfo {
  return {
    ...summaryOf(b),
    step_separator: b.manifest.step_separator,
    end_texts: b.segmenter.endTexts,
    max_sequence_length: b.manifest.max_sequence_length,
    graph: b.manifest.policy.graph,
    execution_provider: b.policy.executionProvider,
    provenance: b.manifest.provenance,
  };
}

/** Rewards of one item from its log-probs (shared with cached paths: same inputs, same numbers). */
export function itemResult(item: PreparedItem, lp: ItemLogprobs, o: ResolvedOptions): ItemResult {
  const r = computeRewards({
    policy: lp.policy,
    reference: lp.reference,
    stepTokens: item.stepTokens,
    beta: o.beta,
    aggregate: o.aggregate,
    tokenRewards: o.tokenRewards,
  });
  const out: ItemResult = { id: item.id, score: r.score, outcome_reward: r.outcome_reward, steps: r.steps, cached_tokens: lp.cachedTokens };
  if (r.token_rewards) out.token_rewards = r.token_rewards;
  return out;
}

/** The service plus a promise for startup code and tests that need to wait for loading. */
export interface LoadingScoringService extends ScoringService {
  /** Resolves when every bundle has been loaded and warmed, or has failed (see readiness()). */
  whenLoaded(): Promise<void>;
  /**
   * Hot reload of one bundle by name, or of every bundle folder (bundle-registry.ts). Requests in
   * flight finish on the version they started with.
   */
  reload(name?: string): Promise<ReloadOutcome[]>;
  /** Scoring calls in flight, and replaced bundle versions waiting for theirs to finish. */
  load(): { inFlight: number; retiringBundles: number };
}

export { ReloadError, type ReloadOutcome };

/** The batcher's settings for one bundle: its passes' token budget also bounded by their bytes. */
function bundleBatching(bundle: LoadedBundle, batching: BatcherOptions): BatcherOptions {
  const models = [bundle.manifest.policy, ...(bundle.manifest.reference ? [bundle.manifest.reference] : [])];
  return { ...batching, maxBatchTokens: tokenBudget(models, batching.maxBatchTokens, batching.maxBatchBytes ?? Number.POSITIVE_INFINITY) };
}

export function createScoringService(opts: ScoringServiceOptions): LoadingScoringService {
  const registry = new BundleRegistry({
    modelsDir: opts.modelsDir,
    device: opts.device,
    engineThreads: opts.engineThreads,
    intraOpThreads: opts.intraOpThreads,
    interOpThreads: opts.interOpThreads,
    intraOpSpinning: opts.intraOpSpinning,
    trustFingerprint: opts.trustFingerprint,
    logger: opts.logger,
    // A replaced version's queue is closed once no request uses it; rows still running finish.
    beforeDispose: async (bundle) => {
      const p = pipelines.get(bundle);
      if (p) {
        pipelines.delete(bundle);
        p.close();
        await p.drain();
      }
      // Its KV lives in the models about to be released: such entries could never serve again.
      tier2?.dropModels(bundle.models);
    },
  });
  // Loading never rejects (failures are recorded per bundle), but keep a stray rejection visible.
  registry.loaded.catch((err: unknown) => opts.logger.error({ err }, 'bundle loading stopped unexpectedly'));

  const tier1 = opts.tier1 ?? new MemoryLogprobCache(DEFAULTS.cacheMaxBytes);
  const tier2 = opts.tier2 === undefined ? new KvPrefixCache(DEFAULTS.kvCacheMaxBytes) : opts.tier2;
  // One pipeline (queue + batcher) per loaded bundle object: a reloaded bundle gets a new one.
  const pipelines = new Map<LoadedBundle, LogprobPipeline>();
  function pipelineOf(bundle: LoadedBundle): LogprobPipeline {
    let p = pipelines.get(bundle);
    if (!p) {
      const base = opts.batching ?? batcherOptionsOf(DEFAULTS);
      const batching = bundleBatching(bundle, base);
      if (batching.maxBatchTokens < base.maxBatchTokens) {
        opts.logger.info({ bundle: bundle.name, maxBatchTokens: batching.maxBatchTokens },
          `bundle "${bundle.name}": passes of at most ${batching.maxBatchTokens} padded tokens (MAX_BATCH_BYTES)`);
      }
      p = new LogprobPipeline({ fingerprint: bundle.fingerprint, models: bundle.models, caches: { logprobs: tier1, kv: tier2 }, batcher: batching });
      pipelines.set(bundle, p);
    }
    return p;
  }

  function defaultModel(): string | undefined {
    return opts.defaultModel ?? registry.names()[0];
  }

  function resolveBundle(model: string | undefined): LoadedBundle {
    const name = model ?? defaultModel();
    if (!registry.isDiscovered) throw new PrmError(ErrorCode.NOT_READY, 'models are still being discovered', { retryAfterS: 1 });
    if (name === undefined) throw new PrmError(ErrorCode.MODEL_NOT_FOUND, 'no model was named and there is no default model');
    const e = registry.get(name);
    if (e === undefined) {
      const known = registry.names();
      throw new PrmError(
        ErrorCode.MODEL_NOT_FOUND,
        `no model named ${JSON.stringify(name)}` + (known.length > 0 ? ` (available: ${known.join(', ')})` : ''),
      );
    }
    if (e.state === 'loading') throw new PrmError(ErrorCode.NOT_READY, `model ${JSON.stringify(name)} is still loading`, { retryAfterS: 5 });
    if (e.state === 'failed') throw new PrmError(ErrorCode.NOT_READY, `model ${JSON.stringify(name)} failed to load: ${e.reason}`);
    return e.bundle;
  }

  const maxInFlight = opts.maxConcurrentRequests ?? Number.POSITIVE_INFINITY;
  let inFlight = 0;

  /** The permit: counts the call until its work has stopped, whatever way it ends. */
  async function score(
    model: string | undefined,
    items: ScoreItemInput[],
    options: ScoreOptions,
    signal?: AbortSignal,
  ): Promise<ScoreResult> {
    if (inFlight >= maxInFlight) {
      metrics.rejected.inc({ reason: 'overloaded' });
      throw new PrmError(ErrorCode.OVERLOADED, `${inFlight} scoring requests are in flight (the limit); retry shortly`, { retryAfterS: 1 });
    }
    inFlight++;
    try {
      return await scoreAdmitted(model, items, options, signal);
    } finally {
      inFlight--;
    }
  }

  async function scoreAdmitted(
    model: string | undefined,
    items: ScoreItemInput[],
    options: ScoreOptions,
    signal?: AbortSignal,
  ): Promise<ScoreResult> {
    const t0 = performance.now();
    throwIfAborted(signal);
    const bundle = resolveBundle(model);
    // Taken in the same tick as the lookup: a reload cannot dispose this version before release.
    const release = registry.lease(bundle);
    try {
      return await scoreWith(bundle, items, options, t0, signal);
    } finally {
      release();
    }
  }

  async function scoreWith(
    bundle: LoadedBundle,
    items: ScoreItemInput[],
    options: ScoreOptions,
    t0: number,
    signal?: AbortSignal,
  ): Promise<ScoreResult> {
    const o = resolveOptions(options, bundle.manifest.beta);

    const prepared = await prepareItems(bundle.segmenter, items, {
      partial: o.partial, maxTokensPerItem: opts.maxTokensPerItem, maxTokensPerRequest: opts.maxTokensPerRequest, signal,
    });
    const t1 = performance.now();
    throwIfAborted(signal);
    const { items: logprobs, queueMs } = await pipelineOf(bundle).compute(prepared, signal);
    const t2 = performance.now();
    throwIfAborted(signal);

    const results = prepared.map((item, i) => itemResult(item, logprobs[i], o));
    let promptTokens = 0;
    let responseTokens = 0;
    let cachedTokens = 0;
    prepared.forEach((p, i) => {
      promptTokens += p.promptTokens;
      responseTokens += p.responseTokens;
      cachedTokens += logprobs[i].cachedTokens;
    });
    metrics.itemsScored.inc({ model: bundle.name }, items.length);
    metrics.tokensScored.inc({ model: bundle.name, source: 'computed' }, responseTokens - cachedTokens);
    if (cachedTokens > 0) metrics.tokensScored.inc({ model: bundle.name, source: 'cached' }, cachedTokens);
    return {
      model: summaryOf(bundle, o.beta),
      results,
      usage: { items: items.length, prompt_tokens: promptTokens, response_tokens: responseTokens, cached_tokens: cachedTokens },
      timings: { tokenize_ms: t1 - t0, queue_ms: queueMs, infer_ms: Math.max(0, t2 - t1 - queueMs), total_ms: performance.now() - t0 },
    };
  }

  function readiness(): Readiness {
    const models: Record<string, string> = {};
    for (const name of registry.names()) {
      const e = registry.get(name)!;
      models[name] = e.state === 'failed' ? `failed: ${e.reason}` : e.state;
    }
    // Problems that are no single bundle's; Readiness has no other field for them, so they are
    // listed in `degraded` too, but unlike other degraded conditions they keep `ready` false.
    const fatal = registry.issues();
    const def = opts.defaultModel;
    if (def !== undefined && registry.isDiscovered && registry.get(def) === undefined) {
      fatal.push(`the default model ${JSON.stringify(def)} is not among the bundles found`);
    }
    const names = Object.keys(models);
    // Ready once loading is over and the default model serves: a broken bundle beside it is listed
    // (models, degraded) and refused by name, but does not take the others out of service.
    const unnamed = defaultModel(); // where requests that name no model go
    const ready = registry.isDiscovered && fatal.length === 0 && names.length > 0
      && names.every((n) => models[n] !== 'loading') && unnamed !== undefined && models[unnamed] === 'ready';
    const broken = names.filter((n) => registry.get(n)!.state === 'failed').map((n) => `bundle "${n}" ${models[n]}`);
    const cache = tier1.health();
    // A cache in trouble degrades to uncached scoring; it never makes the service unready.
    const cacheTrouble = cache.healthy ? [] : [`tier-1 cache (${cache.kind}) unavailable, scoring uncached: ${cache.detail}`];
    return { ready, models, degraded: [...fatal, ...broken, ...cacheTrouble] };
  }

  return {
    models: () => registry.ready().map(infoOf),
    defaultModel,
    readiness,
    score,
    close: async () => {
      for (const p of pipelines.values()) p.close();
      await Promise.all([...pipelines.values()].map((p) => p.drain()));
      pipelines.clear();
      await registry.close();
      await tier1.close();
      tier2?.clear();
    },
    whenLoaded: () => registry.loaded,
    reload: (name) => registry.reload(name),
    load: () => ({ inFlight, retiringBundles: registry.retiring }),
  };
}
