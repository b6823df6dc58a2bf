/**
 * Every setting of the service, read once from the environment, typed and validated. A bad value
 * stops the process at startup with one message listing every problem, instead of surfacing as a
 * strange failure under load.
 *
 * Each entry of CONFIG_VARS names its environment variable, its default (as text, the way the
 * README table shows it) and what it is for; the `Config` type is derived from the parsers, so a
 * setting cannot exist in one place and not the other. An empty variable (`REDIS_URL=`) counts as
 * unset, which is what docker-compose files and shell scripts usually mean by it.
 */
import type { BatcherOptions } from './batching/batcher.js';
import type { LoadOptions } from './bundle/load-bundle.js';
import type { RequestLimits } from './core/score-request.js';
import { DEVICES, ENGINE_THREADS } from './engine/devices.js';
import type { JsonShapeLimits } from './http/json-shape.js';

const MiB = 1024 * 1024;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** /get_reward's rules for an over-long sample (routes/reward-samples.ts). */
export const TRUNCATIONS = ['right', 'left', 'error'] as const;
export type Truncation = (typeof TRUNCATIONS)[number];

interface VarSpec<T> {
  env: string;
  /** Default as shown to operators; undefined = unset. */
  default: string | undefined;
  doc: string;
  /** Turns the raw value (or the default) into the setting; throws Error with a reason. */
  parse(raw: string | undefined): T;
}

function integer(env: string, def: number, min: number, max: number, doc: string): VarSpec<number> {
  return {
    env,
    default: String(def),
    doc,
    parse(raw) {
      const text = raw ?? String(def);
      if (!/^-?\d+$/.test(text.trim())) throw new Error(`must be an integer, got '${text}'`);
      const n = Number(text.trim());
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        throw new Error(`must be between ${min} and ${max}, got ${text}`);
      }
      return n;
    },
  };
}

function finiteNumber(text: string): number {
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(n)) throw new Error(`must be a finite number, got '${text}'`);
  return n;
}

function decimal(env: string, def: number, doc: string): VarSpec<number> {
  return { env, default: String(def), doc, parse: (raw) => finiteNumber(raw ?? String(def)) };
}

function text(env: string, def: string, doc: string): VarSpec<string> {
  return { env, default: def, doc, parse: (raw) => raw ?? def };
}

function optionalText(env: string, doc: string, check?: (v: string) => void): VarSpec<string | undefined> {
  return {
    env,
    default: undefined,
    doc,
    parse(raw) {
      if (raw !== undefined && check) check(raw);
      return raw;
    },
  };
}

function oneOf<const V extends readonly string[]>(env: string, values: V, def: V[number], doc: string): VarSpec<V[number]> {
  return {
    env,
    default: def,
    doc,
    parse(raw) {
      const v = (raw ?? def).trim().toLowerCase();
      if (!values.includes(v)) throw new Error(`must be one of ${values.join(', ')}, got '${raw}'`);
      return v as V[number];
    },
  };
}

function flag(env: string, def: boolean, doc: string): VarSpec<boolean> {
  return {
    env,
    default: String(def),
    doc,
    parse(raw) {
      if (raw === undefined) return def;
      const v = raw.trim().toLowerCase();
      if (['true', '1', 'yes'].includes(v)) return true;
      if (['false', '0', 'no'].includes(v)) return false;
      throw new Error(`must be true or false, got '${raw}'`);
    },
  };
}

/** Comma-separated list; unset = empty list. */
function list(env: string, doc: string, check?: (item: string) => void): VarSpec<string[]> {
  return {
    env,
    default: undefined,
    doc,
    parse(raw) {
      if (raw === undefined) return [];
      const items = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
      if (check) items.forEach(check);
      return items;
    },
  };
}

function checkRedisUrl(v: string): void {
  if (!/^rediss?:\/\/.+/.test(v)) throw new Error(`must be a redis:// or rediss:// URL, got '${v}'`);
}

function checkHostPort(v: string): void {
  const m = /^(.+):(\d+)$/.exec(v);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`'${v}' is not host:port`);
}

/** A key travels in an HTTP header; characters a header cannot carry would make it unusable. */
function checkKey(v: string): void {
  if (!/^[\x21-\x7e]+$/.test(v)) throw new Error('keys must be printable ASCII without spaces');
}

export const CONFIG_VARS = {
  // HTTP
  port: integer('PORT', 8080, 0, 65535, 'TCP port to listen on (0 = any free port)'),
  host: text('HOST', '0.0.0.0', 'Address to listen on'),
  logLevel: oneOf('LOG_LEVEL', LOG_LEVELS, 'info', 'Log level (fatal, error, warn, info, debug, trace, silent)'),
  bodyLimitBytes: integer('BODY_LIMIT_BYTES', 8 * MiB, 1024, 1024 * MiB, 'Largest request body accepted (8 MiB); larger → 413 BODY_TOO_LARGE'),
  bodyBytesInFlight: integer('MAX_BODY_BYTES_IN_FLIGHT', 32 * MiB, 1024, 64 * 1024 * MiB, 'Request bodies held at once, by their declared length (Content-Length; BODY_LIMIT_BYTES when chunked), from the first byte until the answer is sent; a request that does not fit beside the others → 503 OVERLOADED before its body is read (one alone is always served). Bounds the memory that requests take (docs/reliability.md)'),
  maxItemsPerRequest: integer('MAX_ITEMS_PER_REQUEST', 256, 1, 1_000_000, 'Most traces in one /v1/score request; more → 413 TOO_MANY_ITEMS (/get_reward scores larger batches in chunks of this size)'),
  largeBatchesAtOnce: integer('LARGE_BATCHES_AT_ONCE', 1, 1, 1024, '/get_reward batches of more than MAX_ITEMS_PER_REQUEST samples worked on at once; later ones wait their turn, in arrival order and within their deadline. Their per-sample work all runs on the event loop, so more at once is no faster: it only holds more memory and lengthens garbage-collection pauses (docs/reliability.md)'),
  rewardFallback: decimal('GET_REWARD_FALLBACK', -1, '/get_reward: the reward of a sample that cannot be scored (its error code is in the answer\'s errors); keep it below the rewards of real samples, so a policy never learns that being unscorable pays'),
  rewardTruncation: oneOf('GET_REWARD_TRUNCATE', TRUNCATIONS, 'right', '/get_reward: an over-long sample is scored on the steps that fit (right), on the end of its prompt that fits (left), or gets the fallback (error)'),
  shutdownDrainMs: integer('SHUTDOWN_DRAIN_MS', 2_000, 0, 600_000, 'After SIGTERM: how long readiness answers 503 while requests keep being served (connections told to close), before the server stops accepting; requests already sent when the signal came are answered, not reset'),
  requestTimeoutMs: integer('REQUEST_TIMEOUT_MS', 30_000, 1, 3_600_000, 'Deadline of a scoring request; past it → 504 DEADLINE_EXCEEDED'),
  headersTimeoutMs: integer('HEADERS_TIMEOUT_MS', 10_000, 100, 600_000, 'Time a client has to send the request headers; a slower one is cut (408)'),
  bodyTimeoutMs: integer('BODY_TIMEOUT_MS', 30_000, 100, 3_600_000, 'Time a client has to send the whole request, body included; a slower one is cut (408), so a body dripped byte by byte cannot hold a connection'),
  maxTokensPerItem: integer('MAX_TOKENS_PER_ITEM', 16_384, 1, 16 * MiB, 'Most prompt + response tokens in one trace; more → 413 TOO_MANY_TOKENS (a model\'s max_sequence_length still applies)'),
  maxTokensPerRequest: integer('MAX_TOKENS_PER_REQUEST', 262_144, 1, 1024 * MiB, 'Most prompt + response tokens in one request, all traces together; more → 413 TOO_MANY_TOKENS'),
  // models
  modelsDir: text('MODELS_DIR', 'models', 'Folder holding one model bundle per subfolder'),
  requireBundleFingerprint: flag('REQUIRE_FINGERPRINT', false, "Refuse a bundle whose prm.json has no fingerprint: without one, weights changed or damaged after export go unnoticed (a damaged graph that still runs gives finite, wrong rewards). The container images and Kubernetes manifests set it"),
  trustBundleFingerprint: flag('TRUST_BUNDLE_FINGERPRINT', false, "Take each prm.json's fingerprint as it is instead of hashing the bundle's files at load (faster starts for multi-GB bundles; a file changed after export then goes unnoticed and caches keyed by the fingerprint serve its old rewards)"),
  defaultModel: optionalText('DEFAULT_MODEL', 'Model used when a request names none (unset: arith-tiny if present, else the first bundle)'),
  device: oneOf('PRM_DEVICE', DEVICES, 'auto', 'Execution provider: auto (CUDA when available, else CPU), cuda, cpu'),
  intraOpThreads: integer('PRM_INTRA_OP_THREADS', 0, 0, 1024, 'onnxruntime threads of one forward pass, split evenly between a bundle\'s policy and reference, which run at once in their worker threads (0 = this machine\'s cores)'),
  intraOpSpinning: flag('PRM_INTRA_OP_SPINNING', false, 'onnxruntime\'s intra-op threads spin while waiting for work (off: they sleep, leaving the cores to the other model\'s pass and the HTTP thread; see bench/NOTES.md #19)'),
  engineNiceness: integer('PRM_ENGINE_NICENESS', 0, 0, 19, 'Scheduling niceness of the engine\'s worker threads and the onnxruntime threads they start (Linux; 0 = that of the process): higher leaves a core to the HTTP thread first whenever it has work; a freshly started server then admits a burst before it knows the engine\'s pace (docs/reliability.md)'),
  tokenizerThreads: integer('PRM_TOKENIZER_THREADS', 1, 0, 64, 'Threads that tokenize items of 16 KiB of text or more, off the event loop (0 = on the event loop, between other work)'),
  interOpThreads: integer('PRM_INTER_OP_THREADS', 0, 0, 1024, 'onnxruntime threads across operators (0 = onnxruntime default)'),
  engineThreads: oneOf('PRM_ENGINE_THREADS', ENGINE_THREADS, 'worker', 'Where onnxruntime runs: worker (one worker thread per model; the event loop stays free during inference) or main'),
  // caching
  redisUrl: optionalText('REDIS_URL', 'Log-prob cache in Redis, e.g. redis://127.0.0.1:6379 (unset = in-process cache)', checkRedisUrl),
  redisClusterNodes: list('REDIS_CLUSTER_NODES', 'Log-prob cache in a Redis Cluster: comma-separated host:port seeds (unset = not a cluster)', checkHostPort),
  redisTimeoutMs: integer('REDIS_TIMEOUT_MS', 50, 1, 60_000, 'Budget of one Redis call; slower calls count as a miss'),
  cacheTtlSeconds: integer('CACHE_TTL_SECONDS', 86_400, 1, 365 * 86_400, 'Expiry of log-prob cache entries in Redis (1 day)'),
  cacheMaxBytes: integer('CACHE_MAX_BYTES', 256 * MiB, 0, Number.MAX_SAFE_INTEGER, 'In-process log-prob cache size (256 MiB; 0 disables)'),
  kvCacheMaxBytes: integer('KV_CACHE_MAX_BYTES', 512 * MiB, 0, Number.MAX_SAFE_INTEGER, 'KV cache: key/values of prefixes (512 MiB; 0 disables)'),
  // batching and admission
  maxBatchTokens: integer('MAX_BATCH_TOKENS', 2048, 1, 16 * MiB, 'Padded tokens per forward pass'),
  maxBatchBytes: integer('MAX_BATCH_BYTES', 512 * MiB, 1, Number.MAX_SAFE_INTEGER, 'What one forward pass may allocate for its outputs (512 MiB): padded tokens × the bundle\'s scores and key/values per token, all its models; lowers the token budget of large-vocabulary logits graphs'),
  maxBatchPaddingPercent: integer('MAX_BATCH_PADDING_PERCENT', 10, 0, 100, 'Largest share of padded tokens in a batch; rows that would pad more wait for the next batch (100 = no cap)'),
  maxBatchWaitMs: integer('MAX_BATCH_WAIT_MS', 2, 0, 10_000, 'How long the batcher waits to fill a batch'),
  maxQueueRows: integer('MAX_QUEUE_ROWS', 4096, 1, 16 * MiB, 'Rows waiting for a batch before new work gets 503 OVERLOADED'),
  maxConcurrentRequests: integer('MAX_CONCURRENT_REQUESTS', 256, 1, 1_000_000, 'Requests with a body (scoring, /get_reward, /tokenize) in flight before new ones get 503 OVERLOADED, checked before the body is read; with MAX_BODY_BYTES_IN_FLIGHT it bounds the memory requests take (docs/reliability.md)'),
  // access
  apiKeys: list('API_KEYS', 'Comma-separated keys accepted as `Authorization: Bearer <key>` (unset = no auth)', checkKey),
  adminApiKeys: list('ADMIN_API_KEYS', 'Comma-separated keys that may also use admin endpoints (unset = admin endpoints are off)', checkKey),
  publicHealth: flag('PUBLIC_HEALTH', true, '/health/* answers without a key'),
  eventLoopResolutionMs: integer('EVENT_LOOP_RESOLUTION_MS', 10, 1, 1000, 'Tick of the event-loop delay monitor behind prm_nodejs_eventloop_lag_*: a stall of s ms reads between s and s + this (1 for measurements: about a thousand timer wake-ups a second)'),
  publicMetrics: flag('PUBLIC_METRICS', true, '/metrics answers without a key'),
  rateLimitPerMinute: integer('RATE_LIMIT_PER_MINUTE', 0, 0, 100_000_000, 'Scoring requests per minute per API key (per client address without keys); more → 429 RATE_LIMITED (0 = no limit)'),
} satisfies Record<string, VarSpec<unknown>>;

type Specs = typeof CONFIG_VARS;
export type Config = { [K in keyof Specs]: ReturnType<Specs[K]['parse']> };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** The batcher's settings (rows per batch are bounded by tokens; 256 only caps pathological queues). */
export function batcherOptionsOf(config: Config): BatcherOptions {
  return {
    maxBatchTokens: config.maxBatchTokens,
    maxBatchBytes: config.maxBatchBytes,
    maxRows: 256,
    maxPaddingFraction: config.maxBatchPaddingPercent / 100,
    maxWaitMs: config.maxBatchWaitMs,
    maxQueueRows: config.maxQueueRows,
  };
}

/** How bundles are opened: the engine's settings under the engine's names. */
export function engineOptionsOf(config: Config, logger: LoadOptions['logger']): LoadOptions {
  return {
    device: config.device,
    engineThreads: config.engineThreads,
    // 0 means "this machine's cores" (threadsPerModel), which the engine expresses as "not set".
    intraOpThreads: config.intraOpThreads || undefined,
    interOpThreads: config.interOpThreads || undefined,
    intraOpSpinning: config.intraOpSpinning,
    engineNiceness: config.engineNiceness,
    trustFingerprint: config.trustBundleFingerprint,
    requireFingerprint: config.requireBundleFingerprint,
    logger,
  };
}

/**
 * The admission limits of a scoring call. MAX_CONCURRENT_REQUESTS is not among them: over HTTP it
 * bounds the requests with a body (src/http/body-budget.ts), and a /get_reward batch, admitted
 * once there, makes one scoring call per chunk, which a second count of the same limit would
 * refuse halfway through the batch.
 */
export function requestLimitsOf(config: Config): RequestLimits {
  return {
    maxTokensPerItem: config.maxTokensPerItem,
    maxTokensPerRequest: config.maxTokensPerRequest,
  };
}

/**
 * What a JSON body may look like before it is parsed (src/http/json-shape.ts), from the request
 * limits: no array longer than the most items, steps or token ids one trace or request may have;
 * no more values than a request of MAX_TOKENS_PER_REQUEST tokens needs (a token id item holds
 * each token's id and at most one step end per token; /get_reward's query, prompts and labels
 * are arrays of the same length), nor more strings (a step is a token at least; an item has a
 * few keys and a prompt); a few levels of nesting (the request schemas need four).
 */
export function jsonShapeLimitsOf(config: Config): JsonShapeLimits {
  const maxArrayLength = Math.max(config.maxItemsPerRequest, config.maxTokensPerItem);
  const perItem = 16 * config.maxItemsPerRequest + 64;
  return {
    maxDepth: 32,
    maxArrayLength,
    maxValues: Math.max(2 * config.maxTokensPerRequest, 3 * maxArrayLength) + perItem,
    maxStrings: Math.max(config.maxTokensPerRequest, 3 * maxArrayLength) + perItem,
  };
}

/** Reads every setting; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(CONFIG_VARS) as [string, VarSpec<unknown>][]) {
    const raw = env[spec.env];
    try {
      out[key] = spec.parse(raw === undefined || raw.trim() === '' ? undefined : raw);
    } catch (err) {
      problems.push(`${spec.env}: ${(err as Error).message}`);
    }
  }
  if (problems.length === 0) problems.push(...settingsInConflict(out as Config));
  if (problems.length > 0) throw new ConfigError(problems);
  return out as Config;
}

/** Settings that are each valid but cannot hold together. */
function settingsInConflict(config: Config): string[] {
  const problems: string[] = [];
  // Node's HTTP server refuses to start otherwise: the headers are part of the whole request.
  if (config.headersTimeoutMs > config.bodyTimeoutMs) {
    problems.push(`HEADERS_TIMEOUT_MS: must not exceed BODY_TIMEOUT_MS (${config.bodyTimeoutMs}), got ${config.headersTimeoutMs}`);
  }
  return problems;
}
