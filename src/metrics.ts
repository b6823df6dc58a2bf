/**
 * All Prometheus metrics, defined once. Names are a contract with docker/grafana dashboards and
 * operators' alerts: change them only together.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PassTimes } from './engine/types.js';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'prm_' });

const latencyBuckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const metrics = {
  requests: new Counter({
    name: 'prm_requests_total',
    help: 'HTTP requests by route and status code',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  }),
  requestDuration: new Histogram({
    name: 'prm_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['route'] as const,
    buckets: latencyBuckets,
    registers: [registry],
  }),
  errors: new Counter({
    name: 'prm_errors_total',
    help: 'Error responses by error code',
    labelNames: ['code'] as const,
    registers: [registry],
  }),
  itemsScored: new Counter({
    name: 'prm_items_scored_total',
    help: 'Traces scored, by model',
    labelNames: ['model'] as const,
    registers: [registry],
  }),
  tokensScored: new Counter({
    name: 'prm_tokens_total',
    help: 'Response tokens scored, by model and source (computed or cached)',
    labelNames: ['model', 'source'] as const,
    registers: [registry],
  }),
  cacheHits: new Counter({
    name: 'prm_cache_hits_total',
    help: 'Cache hits by tier (tier1 = log-probs per segment, tier2 = KV of prefixes)',
    labelNames: ['tier'] as const,
    registers: [registry],
  }),
  cacheMisses: new Counter({
    name: 'prm_cache_misses_total',
    help: 'Cache misses by tier',
    labelNames: ['tier'] as const,
    registers: [registry],
  }),
  cacheErrors: new Counter({
    name: 'prm_cache_errors_total',
    help: 'Tier-1 cache operations that failed or timed out (scoring went on uncached)',
    labelNames: ['op'] as const,
    registers: [registry],
  }),
  cacheBytes: new Gauge({
    name: 'prm_cache_bytes',
    help: 'Bytes held by in-process caches',
    labelNames: ['tier'] as const,
    registers: [registry],
  }),
  engineSeconds: new Counter({
    name: 'prm_engine_seconds_total',
    help: 'Engine time by forward-pass stage and model file: pack (rows into padded inputs), run (onnxruntime), unpack (log-probs and kept key/values out)',
    labelNames: ['model', 'stage'] as const,
    registers: [registry],
  }),
  engineKvBytes: new Gauge({
    name: 'prm_engine_kv_bytes',
    help: 'Key/value bytes held by engine worker threads (tier-2 entries and rows in flight), by model file',
    labelNames: ['model'] as const,
    registers: [registry],
  }),
  queueDepth: new Gauge({
    name: 'prm_queue_depth',
    help: 'Rows waiting for a batch',
    registers: [registry],
  }),
  queueWait: new Histogram({
    name: 'prm_queue_wait_seconds',
    help: 'Time a row waited in the queue before its batch started',
    buckets: latencyBuckets,
    registers: [registry],
  }),
  inferDuration: new Histogram({
    name: 'prm_infer_duration_seconds',
    help: 'Forward-pass time per batch (policy and reference)',
    buckets: latencyBuckets,
    registers: [registry],
  }),
  batchRows: new Histogram({
    name: 'prm_batch_rows',
    help: 'Rows per batch',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [registry],
  }),
  batchTokens: new Histogram({
    name: 'prm_batch_tokens',
    help: 'Padded tokens per batch (rows × longest row)',
    buckets: [64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536],
    registers: [registry],
  }),
  paddingFraction: new Histogram({
    name: 'prm_batch_padding_fraction',
    help: 'Fraction of padded positions per batch',
    buckets: [0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1],
    registers: [registry],
  }),
  batchPaddedTokens: new Counter({
    name: 'prm_batch_padded_tokens_total',
    help: 'Token positions computed by the engine, padding included (rows × longest row, summed)',
    registers: [registry],
  }),
  batchRealTokens: new Counter({
    name: 'prm_batch_real_tokens_total',
    help: 'Token positions computed by the engine that were real tokens (padding waste = 1 - real/padded)',
    registers: [registry],
  }),
  rejected: new Counter({
    name: 'prm_rejected_total',
    help: 'Requests rejected before work, by reason (overloaded, rate_limited, deadline, client_closed)',
    labelNames: ['reason'] as const,
    registers: [registry],
  }),
  modelsReady: new Gauge({
    name: 'prm_models_ready',
    help: 'Bundles loaded and warmed',
    registers: [registry],
  }),
};

/** Adds one pass's stage times to `prm_engine_seconds_total` (main thread; workers send theirs). */
export function countPassTimes(model: string, t: PassTimes): void {
  metrics.engineSeconds.inc({ model, stage: 'pack' }, t.packMs / 1000);
  metrics.engineSeconds.inc({ model, stage: 'run' }, t.runMs / 1000);
  metrics.engineSeconds.inc({ model, stage: 'unpack' }, t.unpackMs / 1000);
}
