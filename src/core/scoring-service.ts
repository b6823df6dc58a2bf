/**
 * The ScoringService the HTTP layer calls, assembled from its parts: the bundle registry
 * (background loading, readiness, hot reload), one pipeline per loaded bundle over the caches it
 * is given, and the admission limits. Each call runs the stages of score-request.ts (a tokenize
 * call only its tokenize stage, tokenize-request.ts). Bundles load
 * in the background; the service object exists at once so the server can answer liveness and
 * readiness while they load. Everything it needs comes in through ScoringServiceOptions (the
 * entry point builds them from the settings: app.ts, scoringServiceFor).
 */
import type { BatcherOptions } from '../batching/batcher.js';
import type { LoadOptions } from '../bundle/load-bundle.js';
import type { Logger } from '../logger.js';
import { BundleRegistry, ReloadError, type ReloadOutcome } from './bundle-registry.js';
import type { Caches } from '../cache/create-caches.js';
import { BundlePipelines } from './logprob-pipeline.js';
import { SegmentPool } from '../bundle/segment-pool.js';
import { Admission, backlogRefusal, scorer, type RequestLimits, type ScoreDeps } from './score-request.js';
import { infoOf, readinessOf } from './service-status.js';
import { tokenizer } from './tokenize-request.js';
import type { ScoringService } from './types.js';

export interface ScoringServiceOptions {
  modelsDir: string;
  /** Model used when a request names none; default: the only bundle, or the first by name. */
  defaultModel?: string;
  /** How bundles are opened: device, threads, fingerprint trust, and the logger they log to. */
  engine: LoadOptions;
  caches: Caches;
  batching: BatcherOptions;
  limits: RequestLimits;
  /** Threads that segment long items off the event loop (segment-pool.ts); 0 or none: in place. */
  tokenizerThreads?: number;
  logger: Logger;
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

export function createScoringService(opts: ScoringServiceOptions): LoadingScoringService {
  const pipelines = new BundlePipelines(opts.caches, opts.batching, opts.logger);
  const segmentPool = opts.tokenizerThreads ? new SegmentPool(opts.tokenizerThreads) : undefined;
  const registry = new BundleRegistry({
    modelsDir: opts.modelsDir,
    engine: opts.engine,
    // The pool's threads load the tokenizer with the bundle: a thread that cannot fails the load.
    afterWarmUp: async (b) => segmentPool?.warm(b),
    beforeDispose: (b) => pipelines.retire(b),
  });
  // Loading never rejects (failures are recorded per bundle), but keep a stray rejection visible.
  registry.loaded.catch((err: unknown) => opts.logger.error({ err }, 'bundle loading stopped unexpectedly'));
  const defaultModel = (): string | undefined => opts.defaultModel ?? registry.names()[0];
  const admission = new Admission(opts.limits.maxConcurrentRequests);
  const deps: ScoreDeps = { registry, pipelines, admission, limits: opts.limits, defaultModel, segmentPool };
  return {
    models: () => registry.ready().map(infoOf),
    defaultModel,
    readiness: () => readinessOf(registry, opts.defaultModel, defaultModel(), opts.caches.logprobs),
    score: scorer(deps),
    backlogRefusal: (deadlineAt) => backlogRefusal(deps, deadlineAt),
    tokenize: tokenizer(deps),
    close: async () => {
      await pipelines.close();
      await registry.close();
      await segmentPool?.close();
      await opts.caches.logprobs.close();
      opts.caches.kv?.clear();
    },
    whenLoaded: () => registry.loaded,
    reload: (name) => registry.reload(name),
    load: () => ({ inFlight: admission.inFlight, retiringBundles: registry.retiring }),
  };
}
