/**
 * The log-prob cache in Redis (single node or cluster) via ioredis: replicas that share one Redis share hits.
 *
 * Redis is an accelerator, never a dependency: every command has a bounded timeout, commands are
 * not queued while disconnected (enableOfflineQueue: false fails them at once), and any failure
 * turns into cache misses plus a metric. ioredis reconnects by itself, so caching resumes when
 * Redis comes back without anything here noticing.
 */
import { Redis, Cluster, type RedisOptions } from 'ioredis';
import { metrics } from '../metrics.js';
import {
  decodeSegment,
  encodeSegment,
  type CacheHealth,
  type LogprobCache,
  type SegmentLogprobs,
} from './logprob-cache.js';
import { mapInSlices, type TimeSlices } from '../util/time-slices.js';

export interface RedisCacheOptions {
  /** redis://host:port/db; ignored when clusterNodes is set. */
  url?: string;
  /** host:port seed nodes of a Redis Cluster. */
  clusterNodes?: string[];
  /** Upper bound on one lookup, milliseconds; slower answers count as misses. */
  timeoutMs: number;
  /** Expiry of stored segments, seconds. */
  ttlSeconds: number;
  logger?: { warn(obj: unknown, msg?: string): void; info(obj: unknown, msg?: string): void };
}

type Client = Redis | Cluster;

/** ioredis' own timeout of a command, in lookup budgets (REDIS_TIMEOUT_MS). */
const COMMAND_TIMEOUT_FACTOR = 10;

/** The hash tag of a key (see segment-keys.ts): keys with the same tag share a cluster slot. */
function tagOf(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open ? key.slice(open + 1, close) : key;
}

export class RedisLogprobCache implements LogprobCache {
  private readonly client: Client;
  private readonly kind: 'redis' | 'redis-cluster';
  private lastError = '';
  private lastWarnAt = 0;
  // A connected Redis that stops answering (hung, overloaded) keeps its connection "ready":
  // health reads these instead, and a probe runs while the last command failed.
  private lastFailureAt = 0;
  private lastSuccessAt = 0;
  private probe: NodeJS.Timeout | undefined;

  constructor(private readonly opts: RedisCacheOptions) {
    const common: RedisOptions = {
      // A backstop for commands nobody waits on with withTimeout (writes): a lookup's budget is
      // withTimeout's, which a reply already read off the socket can still meet.
      commandTimeout: opts.timeoutMs * COMMAND_TIMEOUT_FACTOR,
      connectTimeout: Math.max(1000, opts.timeoutMs * 10),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      enableAutoPipelining: true,
      // Keep trying forever, at most every 2 s: Redis restarts must heal without a restart here.
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    };
    if (opts.clusterNodes && opts.clusterNodes.length > 0) {
      this.kind = 'redis-cluster';
      this.client = new Cluster(
        opts.clusterNodes.map((n) => {
          const [host, port] = n.split(':');
          return { host, port: Number(port) };
        }),
        { redisOptions: common, enableOfflineQueue: false, enableAutoPipelining: true, clusterRetryStrategy: common.retryStrategy },
      );
    } else {
      this.kind = 'redis';
      this.client = new Redis(opts.url ?? 'redis://127.0.0.1:6379', common);
    }
    this.client.on('error', (err: Error) => this.noteError('connection', err));
    this.client.on('ready', () => {
      if (this.lastError) opts.logger?.info({ cache: this.kind }, 'redis cache connected again');
      this.lastError = '';
      this.noteSuccess();
    });
  }

  private noteSuccess(): void {
    this.lastSuccessAt = Date.now();
    if (this.probe) clearInterval(this.probe);
    this.probe = undefined;
  }

  /** Pings once a second until a command succeeds again (then health is back without traffic). */
  private startProbe(): void {
    if (this.probe) return;
    this.probe = setInterval(() => {
      this.withTimeout(this.client.ping()).then(() => this.noteSuccess(), () => {});
    }, 1000);
    this.probe.unref();
  }

  private noteError(op: string, err: unknown): void {
    this.lastError = err instanceof Error ? err.message : String(err);
    if (op !== 'connection') {
      this.lastFailureAt = Date.now();
      this.startProbe();
    }
    metrics.cacheErrors.inc({ op });
    const now = Date.now();
    // One warning per 10 s: a Redis outage under load must not flood the log.
    if (now - this.lastWarnAt > 10_000) {
      this.lastWarnAt = now;
      this.opts.logger?.warn({ cache: this.kind, op, err: this.lastError }, 'redis cache unavailable; scoring uncached');
    }
  }

  /**
   * `p`, or a timeout error once the budget has passed. Timers run before the I/O of the turn
   * that delayed them: after a long turn (a busy event loop, not a slow Redis) the answer may be
   * waiting on the socket when the timer fires, so the error waits one poll phase, in which that
   * answer is read and settles `p` first.
   */
  private withTimeout<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fail = () => reject(new Error(`redis timeout after ${this.opts.timeoutMs} ms`));
      const timer = setTimeout(() => setImmediate(fail), this.opts.timeoutMs);
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  async getMany(keys: readonly string[], slices?: TimeSlices): Promise<(SegmentLogprobs | null)[]> {
    if (keys.length === 0 || this.client.status !== 'ready') {
      if (keys.length > 0) metrics.cacheErrors.inc({ op: 'get_offline' });
      return new Array(keys.length).fill(null);
    }
    let values: (Buffer | null)[];
    try {
      values = await this.withTimeout(this.fetch(keys));
      this.noteSuccess();
    } catch (err) {
      this.noteError('get', err);
      return new Array(keys.length).fill(null);
    }
    // Decoded in the request's slices: the replies of all its MGETs arrive together, and decoding
    // thousands of values in the turn they arrive held the event loop for tens of milliseconds.
    return mapInSlices(values, (v) => (v === null ? null : decodeSegment(v)), slices);
  }

  /**
   * The raw values in key order, one MGET per hash tag (cluster slot). The commands are sent in
   * one turn: the budget of the lookup (REDIS_TIMEOUT_MS) is for Redis, not for turns spent behind
   * other requests' slices.
   */
  private async fetch(keys: readonly string[]): Promise<(Buffer | null)[]> {
    const out: (Buffer | null)[] = new Array(keys.length).fill(null);
    const groups = new Map<string, number[]>();
    keys.forEach((k, i) => {
      const tag = tagOf(k);
      const g = groups.get(tag);
      if (g) g.push(i);
      else groups.set(tag, [i]);
    });
    await Promise.all(
      [...groups.values()].map(async (idx) => {
        const values = await this.client.mgetBuffer(...idx.map((i) => keys[i]));
        values.forEach((v, j) => (out[idx[j]] = v));
      }),
    );
    return out;
  }

  setMany(entries: readonly (readonly [string, SegmentLogprobs])[]): void {
    if (entries.length === 0 || this.client.status !== 'ready') return;
    const ttl = this.opts.ttlSeconds;
    // NX: a key, once written, keeps its value. Two computations of one segment differ in the
    // last float bits (another batch shape, a cached prefix), and a write delayed by a stalled
    // server must not replace what others have already read.
    Promise.all(entries.map(([k, v]) => this.client.set(k, encodeSegment(v), 'EX', ttl, 'NX'))).then(
      () => this.noteSuccess(),
      (err: unknown) => this.noteError('set', err),
    );
  }

  health(): CacheHealth {
    const ready = this.client.status === 'ready';
    const answering = this.lastFailureAt <= this.lastSuccessAt;
    let detail = 'connected';
    if (!ready) detail = `${this.client.status}${this.lastError ? `: ${this.lastError}` : ''}`;
    else if (!answering) detail = `connected but not answering: ${this.lastError}`;
    return { kind: this.kind, healthy: ready && answering, detail };
  }

  async close(): Promise<void> {
    if (this.probe) clearInterval(this.probe);
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
