import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const MiB = 1024 * 1024;

describe('loadConfig', () => {
  it('has the documented defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      modelsDir: 'models',
      defaultModel: undefined,
      device: 'auto',
      intraOpThreads: 0,
      interOpThreads: 0,
      intraOpSpinning: false,
      engineNiceness: 0,
      logLevel: 'info',
      bodyLimitBytes: 8 * MiB,
      maxItemsPerRequest: 256,
      requestTimeoutMs: 30_000,
      redisUrl: undefined,
      redisClusterNodes: [],
      redisTimeoutMs: 50,
      cacheMaxBytes: 256 * MiB,
      kvCacheMaxBytes: 512 * MiB,
      maxBatchTokens: 2048,
      maxBatchWaitMs: 2,
      maxQueueRows: 4096,
      maxConcurrentRequests: 256,
      apiKeys: [],
      adminApiKeys: [],
      publicHealth: true,
      publicMetrics: true,
    });
  });

  it('reads and converts every kind of value', () => {
    const c = loadConfig({
      PORT: '9000',
      PRM_DEVICE: 'CUDA',
      DEFAULT_MODEL: 'tiny',
      REDIS_URL: 'redis://cache:6379/0',
      REDIS_CLUSTER_NODES: 'a:7000, b:7001,',
      API_KEYS: 'k1,k2',
      PUBLIC_METRICS: 'false',
      PUBLIC_HEALTH: '0',
      MAX_BATCH_WAIT_MS: '0',
      PRM_INTRA_OP_SPINNING: 'yes',
    });
    expect(c.port).toBe(9000);
    expect(c.device).toBe('cuda');
    expect(c.defaultModel).toBe('tiny');
    expect(c.redisUrl).toBe('redis://cache:6379/0');
    expect(c.redisClusterNodes).toEqual(['a:7000', 'b:7001']);
    expect(c.apiKeys).toEqual(['k1', 'k2']);
    expect(c.publicMetrics).toBe(false);
    expect(c.publicHealth).toBe(false);
    expect(c.maxBatchWaitMs).toBe(0);
    expect(c.intraOpSpinning).toBe(true);
  });

  it('treats an empty variable as unset', () => {
    const c = loadConfig({ REDIS_URL: '', PORT: ' ', API_KEYS: '' });
    expect(c.redisUrl).toBeUndefined();
    expect(c.port).toBe(8080);
    expect(c.apiKeys).toEqual([]);
  });

  it('rejects bad values, naming every bad variable at once', () => {
    const bad = {
      PORT: '80a',
      BODY_LIMIT_BYTES: '-1',
      PRM_DEVICE: 'gpu',
      LOG_LEVEL: 'loud',
      REDIS_URL: 'http://cache',
      REDIS_CLUSTER_NODES: 'a:7000,b',
      PUBLIC_HEALTH: 'maybe',
      MAX_ITEMS_PER_REQUEST: '0',
      REQUEST_TIMEOUT_MS: '1.5',
    };
    let error: unknown;
    try {
      loadConfig(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(Object.keys(bad).sort());
    expect((error as Error).message).toContain("PRM_DEVICE: must be one of auto, cuda, cpu, got 'gpu'");
  });

  it('rejects out-of-range integers', () => {
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT: must be between 0 and 65535/);
    expect(() => loadConfig({ PRM_INTRA_OP_THREADS: '-2' })).toThrow(/PRM_INTRA_OP_THREADS/);
  });

  it('rejects a headers timeout longer than the whole request may take', () => {
    expect(() => loadConfig({ BODY_TIMEOUT_MS: '3000' })).toThrow(/HEADERS_TIMEOUT_MS: must not exceed BODY_TIMEOUT_MS \(3000\), got 10000/);
    expect(loadConfig({ BODY_TIMEOUT_MS: '3000', HEADERS_TIMEOUT_MS: '3000' }).headersTimeoutMs).toBe(3000);
  });
});
