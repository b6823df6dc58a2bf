/**
 * All Prometheus metrics, defined once. Names are a contract with docker/grafana dashboards and
 * operators' alerts: change them only together.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PassTimes } from './engine/types.js';

export const registry = new Registry();

let processMetricsStarted = false;

/**
 * prom-client's process metrics (CPU, memory, GC, event-loop delay), started once per process by
 * the first app built. `eventLoopResolutionMs` is the tick of the event-loop delay monitor: the
 * monitor records the gap between its ticks, so a stall of s ms reads between s and
 * s + `eventLoopResolutionMs`.
 */
export function collectProcessMetrics(eventLoopResolutionMs: number): void {
  if (processMetricsStarted) return;
  processMetricsStarted = true;
  collectDefaultMetrics({ register: registry, prefix: 'prm_', eventLoopMonitoringPrecision: eventLoopResolutionMs });
}

const latencyBuckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

function histogram<L extends string = never>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []): Histogram<L> {
  return new Histogram({ name, help, buckets, labelNames, registers: [registry] });
}

export const metrics = {
  requests: counter('prm_requests_total', 'HTTP requests by route and status code', ['route', 'status']),
  requestDuration: histogram('prm_request_duration_seconds', 'HTTP request duration by route', latencyBuckets, ['route']),
  errors: counter('prm_errors_total', 'Error responses by error code', ['code']),
  itemsScored: counter('prm_items_scored_total', 'Traces scored, by model', ['model']),
  tokensScored: counter(
    'prm_tokens_total',
    'Response tokens scored, by model and source (computed or cached)',
    ['model', 'source'],
  ),
  cacheHits: counter(
    'prm_cache_hits_total',
    'Cache hits by tier (tier1 = log-probs per segment, tier2 = KV of prefixes)',
    ['tier'],
  ),
  cacheMisses: counter('prm_cache_misses_total', 'Cache misses by tier', ['tier']),
  cacheErrors: counter(
    'prm_cache_errors_total',
    'Tier-1 cache operations that failed or timed out (scoring went on uncached)',
    ['op'],
  ),
  cacheBytes: gauge('prm_cache_bytes', 'Bytes held by in-process caches', ['tier']),
  engineSeconds: counter(
    'prm_engine_seconds_total',
    'Engine time by forward-pass stage and model file: pack (rows into padded inputs), run (onnxruntime), unpack (log-probs and kept key/values out)',
    ['model', 'stage'],
  ),
  engineKvBytes: gauge(
    'prm_engine_kv_bytes',
    'Key/value bytes held by engine worker threads (tier-2 entries and rows in flight), by model file',
    ['model'],
  ),
  queueDepth: gauge('prm_queue_depth', 'Rows waiting for a batch'),
  largeBatchesWaiting: gauge('prm_large_batches_waiting', '/get_reward batches larger than MAX_ITEMS_PER_REQUEST waiting for their turn (LARGE_BATCHES_AT_ONCE)'),
  queueWait: histogram('prm_queue_wait_seconds', 'Time a row waited for its batch, from its admission to the queue (for a row that first waited for its shared prompt, from its request\'s admission)', latencyBuckets),
  inferDuration: histogram('prm_infer_duration_seconds', 'Forward-pass time per batch (policy and reference)', latencyBuckets),
  batchRows: histogram('prm_batch_rows', 'Rows per batch', [1, 2, 4, 8, 16, 32, 64, 128, 256]),
  batchTokens: histogram(
    'prm_batch_tokens',
    'Padded tokens per batch (rows × longest row)',
    [64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536],
  ),
  paddingFraction: histogram(
    'prm_batch_padding_fraction',
    'Fraction of padded positions per batch',
    [0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1],
  ),
  batchPaddedTokens: counter(
    'prm_batch_padded_tokens_total',
    'Token positions computed by the engine, padding included (rows × longest row, summed)',
  ),
  batchRealTokens: counter(
    'prm_batch_real_tokens_total',
    'Token positions computed by the engine that were real tokens (padding waste = 1 - real/padded)',
  ),
  rejected: counter(
    'prm_rejected_total',
    'Requests rejected before work, by reason (overloaded, rate_limited, deadline, client_closed)',
    ['reason'],
  ),
  rowsDropped: counter(
    'prm_rows_dropped_total',
    'Queued rows taken out before they ran because their request ended, by the reason it ended (client_closed, deadline_exceeded, overloaded: another row of the request was refused)',
    ['reason'],
  ),
  requestEngineTokens: counter(
    'prm_engine_request_tokens_total',
    'Token positions the engine computed (the tokens of the rows it ran), by the outcome of the request the rows served: succeeded, failed (the request was answered with an error, before or after its rows ran), shared (prompt passes several requests wait on)',
    ['outcome'],
  ),
  modelsReady: gauge('prm_models_ready', 'Bundles loaded and warmed'),
};

/** Adds one pass's stage times to `prm_engine_seconds_total` (main thread; workers send theirs). */
export function countPassTimes(model: string, t: PassTimes): void {
  metrics.engineSeconds.inc({ model, stage: 'pack' }, t.packMs / 1000);
  metrics.engineSeconds.inc({ model, stage: 'run' }, t.runMs / 1000);
  metrics.engineSeconds.inc({ model, stage: 'unpack' }, t.unpackMs / 1000);
}
