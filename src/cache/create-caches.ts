/**
 * Builds the two caches from the configuration: the log-prob cache in Redis (cluster or single
 * node) when configured, in process otherwise; the KV cache always in process (KV is too large to
 * ship).
 */
import type { Config } from '../config.js';
import { KvPrefixCache } from './kv-prefix-cache.js';
import { MemoryLogprobCache, type LogprobCache } from './logprob-cache.js';
import { RedisLogprobCache } from './redis-logprob-cache.js';

type CacheConfig = Pick<
  Config,
  'redisUrl' | 'redisClusterNodes' | 'redisTimeoutMs' | 'cacheTtlSeconds' | 'cacheMaxBytes' | 'kvCacheMaxBytes'
>;

/** The two caches every bundle's pipeline shares; a null KV cache is disabled. */
export interface Caches {
  /** Log-probs per step segment (logprob-cache.ts). */
  logprobs: LogprobCache;
  /** Past key/values of prefixes (kv-prefix-cache.ts). */
  kv: KvPrefixCache | null;
}

export function createCaches(
  config: CacheConfig,
  logger?: { warn(obj: unknown, msg?: string): void; info(obj: unknown, msg?: string): void },
): Caches {
  const redis = config.redisClusterNodes.length > 0 || config.redisUrl !== undefined;
  const logprobs: LogprobCache = redis
    ? new RedisLogprobCache({
        url: config.redisUrl,
        clusterNodes: config.redisClusterNodes,
        timeoutMs: config.redisTimeoutMs,
        ttlSeconds: config.cacheTtlSeconds,
        logger,
      })
    : new MemoryLogprobCache(config.cacheMaxBytes);
  const kv = config.kvCacheMaxBytes > 0 ? new KvPrefixCache(config.kvCacheMaxBytes) : null;
  logger?.info(
    { logprobCache: logprobs.health().kind, kvCacheBytes: config.kvCacheMaxBytes },
    redis ? 'log-prob cache: redis' : 'log-prob cache: in-process',
  );
  return { logprobs, kv };
}
