/**
 * Builds the two cache tiers from the configuration: tier 1 in Redis (cluster or single node)
 * when configured, in process otherwise; tier 2 always in process (KV is too large to ship).
 */
import type { Config } from '../config.js';
import { KvPrefixCache } from './kv-prefix-cache.js';
import { MemoryLogprobCache, type LogprobCache } from './logprob-cache.js';
import { RedisLogprobCache } from './redis-logprob-cache.js';

type CacheConfig = Pick<
  Config,
  'redisUrl' | 'redisClusterNodes' | 'redisTimeoutMs' | 'cacheTtlSeconds' | 'cacheMaxBytes' | 'kvCacheMaxBytes'
>;

export interface Caches {
  tier1: LogprobCache;
  tier2: KvPrefixCache | null;
}

export function createCaches(
  config: CacheConfig,
  logger?: { warn(obj: unknown, msg?: string): void; info(obj: unknown, msg?: string): void },
): Caches {
  const redis = config.redisClusterNodes.length > 0 || config.redisUrl !== undefined;
  const tier1: LogprobCache = redis
    ? new RedisLogprobCache({
        url: config.redisUrl,
        clusterNodes: config.redisClusterNodes,
        timeoutMs: config.redisTimeoutMs,
        ttlSeconds: config.cacheTtlSeconds,
        logger,
      })
    : new MemoryLogprobCache(config.cacheMaxBytes);
  const tier2 = config.kvCacheMaxBytes > 0 ? new KvPrefixCache(config.kvCacheMaxBytes) : null;
  logger?.info(
    { tier1: tier1.health().kind, tier2Bytes: config.kvCacheMaxBytes },
    redis ? 'tier-1 cache: redis' : 'tier-1 cache: in-process',
  );
  return { tier1, tier2 };
}
