/**
 * Per-token log-probs of step-segmented traces, computed as little as possible, in stages:
 *
 *  1. log-prob cache (per segment, hash-chain keys): one lookup for all items; an item whose
 *     whole chain hits never reaches the engine;
 *  2. KV cache (past key/values of prefixes): the row starts at the longest prefix whose KV is in
 *     memory, so extending a cached trace by one step feeds only that step (+1 token); the KV
 *     stays with the models (a handle, engine/types.ts), held by reference counts (SharedKv);
 *  3. shared prompts: when several items of a request share a prompt with no KV yet, the prompt
 *     is run once and its KV becomes every item's past (also for concurrent requests: the
 *     in-flight computation is awaited, not repeated);
 *  4. the rows the planner (plan-rows.ts) lays out go through the batcher to the bundle's
 *     ModelPair, and both caches are filled from the result.
 *
 * Rewards are computed elsewhere (rewards.ts) from the float32 outputs returned here, so cached
 * and fresh results are identical whatever path produced them.
 */
import { setMaxListeners } from 'node:events';
import { Batcher, type BatcherOptions, type Reservation } from '../batching/batcher.js';
import { tokenBudget } from '../batching/token-budget.js';
import type { LoadedBundle } from '../bundle/load-bundle.js';
import type { Caches } from '../cache/create-caches.js';
import type { KvHit } from '../cache/kv-prefix-cache.js';
import type { SegmentLogprobs } from '../cache/logprob-cache.js';
import { HashChain } from '../cache/segment-keys.js';
import type { ModelPair, PairResult, PairRow, PrefixKv } from '../engine/model-pair.js';
import type { Logger } from '../logger.js';
import { metrics } from '../metrics.js';
import { countSharedEngineTokens, type EngineLedger } from './engine-ledger.js';
import { firstNeeded, fromCachedSteps, planRow, promptDemand, scatterRow, segmentOffsets, stepSlices, usableHitLength, type PlannedRow } from './plan-rows.js';
import { mapInSlices, TimeSlices } from '../util/time-slices.js';

export interface PipelineItem {
  /** [prompt segment, step 1, ..., step n] token ids. */
  readonly segments: readonly ArrayLike<number>[];
  /**
   * The trace will be extended (a `partial` request), so the KV of its tokens goes to the KV cache.
   * A finished trace's KV is not kept: no later request can start from it (its last segment ends
   * the trace), and fetching and storing it costs a fifth of a forward pass or more.
   */
  readonly partial?: boolean;
}

/** Per-token log-probs of one item's response (segments 1..n concatenated). */
export interface ItemLogprobs {
  policy: Float32Array;
  reference: Float32Array | null;
  /** Response tokens whose log-probs came from a cache. */
  cachedTokens: number;
}

export interface PipelineOptions {
  fingerprint: string;
  models: ModelPair;
  caches: Caches;
  batcher: BatcherOptions;
}

/** A row's result; its past is held (retained) by the submitter until the result comes. */
type RowResult = PairResult & { startedAt: number };

interface InflightPrompt {
  promise: Promise<PrefixKv>;
  /** Callers waiting for it; each gets its own reference. */
  claims: number;
}

/** What a call brings besides its items: when it must be done, and where its engine time is counted. */
export interface PipelineCall {
  /** performance.now() time of the request's deadline: admission refuses what would finish later. */
  deadlineAt?: number;
  ledger?: EngineLedger;
}

/** What one call asks of the engine once the caches have answered: a row per item, what it feeds. */
interface RowDemand {
  rows: number;
  tokens: number;
  prompts: number;
}

export interface PipelineResult {
  items: ItemLogprobs[];
  /** Longest time any of the request's rows waited for its batch, ms. */
  queueMs: number;
}

/** What the cache lookups found for one item. */
interface ItemLookup {
  chain: HashChain;
  cached: SegmentLogprobs[];
  /** Retained for this item by the lookup; released when its row has run. */
  kvHit: KvHit | null;
}

export class LogprobPipeline {
  readonly batcher: Batcher<PairRow, RowResult>;
  private readonly inflightPrompts = new Map<string, InflightPrompt>();

  constructor(private readonly o: PipelineOptions) {
    this.batcher = new Batcher<PairRow, RowResult>((rows) => this.runBatch(rows), (r) => r.tokens.length, o.batcher);
  }

  private async runBatch(rows: PairRow[]): Promise<RowResult[]> {
    const startedAt = performance.now();
    const results = await this.o.models.forward(rows);
    return results.map((r) => ({ ...r, startedAt }));
  }

  /**
   * Log-probs of every item. After the cache lookups the request is admitted to the queue as a
   * whole (batcher.reserve) or refused before any of its rows runs.
   */
  async compute(items: readonly PipelineItem[], signal?: AbortSignal, call: PipelineCall = {}): Promise<PipelineResult> {
    const submittedAt = performance.now();
    // One slice budget for the request's stages up to the queue (time-slices.ts).
    const slices = new TimeSlices();
    const lookups = await this.lookUpLogprobs(items, slices);
    await this.lookUpKv(items, lookups, slices);
    // Keys only for the items that would compute their prompt: a cached item needs none.
    const candidates: { promptKey: string; wouldComputePrompt: true }[] = [];
    items.forEach((it, i) => {
      const l = lookups[i];
      if (this.o.caches.kv !== null && l.kvHit === null && !complete(it, l) && it.segments[0].length > 1) {
        candidates.push({ promptKey: l.chain.key(0), wouldComputePrompt: true });
      }
    });
    const demand = promptDemand(candidates);
    const need = this.rowDemand(items, lookups, demand);
    const reservation = need.rows > 0 ? this.reserve(need, call.deadlineAt, lookups) : undefined;
    let queueMs = 0;
    const request = failFast(signal);
    try {
      const run = { demand, signal: request.signal, reservation, ledger: call.ledger };
      // Started in slices: an item's start (its cached steps joined, its row planned and queued)
      // runs before its first wait, so all of them at once would be one long turn.
      const started = await mapInSlices(items, (it, i) => {
        const item = request.guard(() => this.computeItem(it, lookups[i], run)).then(({ logprobs, startedAt }) => {
          if (startedAt !== undefined) queueMs = Math.max(queueMs, startedAt - submittedAt);
          return logprobs;
        });
        // Awaited below, once all have started: an item failing meanwhile is not unhandled.
        item.catch(() => {});
        return item;
      }, slices);
      return { items: await Promise.all(started), queueMs };
    } finally {
      request.done();
      reservation?.release();
    }
  }

  /** The queue room and engine time the request needs, held for it; the KV its lookups retained goes back on refusal. */
  private reserve(need: RowDemand, deadlineAt: number | undefined, lookups: ItemLookup[]): Reservation {
    try {
      return this.batcher.reserve(need.rows + need.prompts, need.tokens, deadlineAt);
    } catch (err) {
      for (const l of lookups) l.kvHit?.prefix.kv.release();
      throw err;
    }
  }

  /**
   * Rows and fed tokens of the items the caches did not answer, and the shared prompts they would
   * start (an upper bound: another request may be computing one already).
   */
  private rowDemand(items: readonly PipelineItem[], lookups: readonly ItemLookup[], demand: ReadonlyMap<string, number>): RowDemand {
    const need: RowDemand = { rows: 0, tokens: 0, prompts: 0 };
    const prompts = new Set<string>();
    items.forEach((it, i) => {
      const l = lookups[i];
      if (complete(it, l)) return;
      const segs = it.segments;
      const key = l.chain.key(0);
      const shared = (demand.get(key) ?? 0) > 1;
      const from = l.kvHit ? usableHitLength(l.kvHit.prefix.length, firstNeeded(segs, l.cached.length)) : shared ? segs[0].length - 1 : 0;
      need.rows++;
      need.tokens += segmentOffsets(segs)[segs.length] - from;
      if (shared && !prompts.has(key) && !this.inflightPrompts.has(key)) {
        prompts.add(key);
        need.tokens += segs[0].length - 1;
      }
    });
    need.prompts = prompts.size;
    return need;
  }

  /** Stage 1: the longest cached step prefix of every item; a value of the wrong shape counts as a miss. */
  private async lookUpLogprobs(items: readonly PipelineItem[], slices: TimeSlices): Promise<ItemLookup[]> {
    const hasRef = this.o.models.reference !== null;
    // In slices: a request's cache keys are a hash per step, thousands for a large request.
    const chains = await mapInSlices(items, (it) => HashChain.of(this.o.fingerprint, it.segments), slices);
    const keys = await mapInSlices(chains, (c) => c.logprobKeys(), slices);
    const found = await this.o.caches.logprobs.getMany(keys.flat(), slices);
    let at = 0;
    let hits = 0;
    const lookups = await mapInSlices(items, (it, i): ItemLookup => {
      const n = keys[i].length;
      const cached: SegmentLogprobs[] = [];
      for (let k = 0; k < n; k++) {
        const v = found[at + k];
        if (!v || v.policy.length !== it.segments[k + 1].length || (v.reference !== null) !== hasRef) break;
        cached.push(v);
      }
      at += n;
      hits += cached.length;
      return { chain: chains[i], cached, kvHit: null };
    }, slices);
    // Counted once per request, not per item: thousands of label lookups otherwise.
    metrics.cacheHits.inc({ tier: 'tier1' }, hits);
    metrics.cacheMisses.inc({ tier: 'tier1' }, found.length - hits);
    return lookups;
  }

  /** Stage 2: the longest prefix with KV in memory, for every item that still needs the engine (in slices: a search per item). */
  private async lookUpKv(items: readonly PipelineItem[], lookups: ItemLookup[], slices: TimeSlices): Promise<void> {
    const kvCache = this.o.caches.kv;
    if (kvCache === null) return;
    const hits = await mapInSlices(items, (it, i) => (complete(it, lookups[i]) ? null : kvCache.longest(lookups[i].chain)), slices);
    hits.forEach((hit, i) => (lookups[i].kvHit = hit));
  }

  /** Stages 3–4 for one item: its past, its row through the batcher, the caches filled. */
  private async computeItem(item: PipelineItem, lookup: ItemLookup, run: ItemRun): Promise<{ logprobs: ItemLogprobs; startedAt?: number }> {
    const segs = item.segments;
    const logprobs = fromCachedSteps(segs, lookup.cached, this.o.models.reference !== null);
    if (complete(item, lookup)) return { logprobs };
    let past: PrefixKv | null = null;
    try {
      past = await this.pastOf(lookup, segs, run.demand, run.reservation);
      const row = planRow(segs, lookup.cached.length, past?.length ?? 0);
      const result = await this.batcher.submit(this.pairRow(item, lookup, row, past), run.signal, run.reservation);
      run.ledger?.add(row.tokens.length);
      try {
        scatterRow(row, result, logprobs, segs[0].length);
        this.store(item, lookup, logprobs, result);
      } finally {
        result.kv?.release();
        result.prefixKv?.release();
      }
      return { logprobs, startedAt: result.startedAt };
    } finally {
      // The hit (retained by the lookup) or the prompt's KV (retained for this caller).
      if (past !== null) past.kv.release();
      else lookup.kvHit?.prefix.kv.release();
    }
  }

  /** The row's past: the KV cache hit, or the prompt's KV shared with other rows, or none. */
  private async pastOf(
    lookup: ItemLookup,
    segs: readonly ArrayLike<number>[],
    demand: ReadonlyMap<string, number>,
    reservation?: Reservation,
  ): Promise<PrefixKv | null> {
    const hit = lookup.kvHit;
    if (hit) return { kv: hit.prefix.kv, length: usableHitLength(hit.prefix.length, firstNeeded(segs, lookup.cached.length)) };
    const h0 = lookup.chain.key(0);
    if (this.o.caches.kv && ((demand.get(h0) ?? 0) > 1 || this.inflightPrompts.has(h0))) return this.promptKv(h0, segs[0], reservation);
    return null;
  }

  private pairRow(item: PipelineItem, lookup: ItemLookup, row: PlannedRow, past: PrefixKv | null): PairRow {
    const kvCache = this.o.caches.kv;
    const prompt = item.segments[0];
    // The prompt's own entry, when missing: a compact copy, so it never pins the whole trace.
    const keepKvPrefix = kvCache && prompt.length > 1 && !kvCache.has(lookup.chain.key(0)) ? prompt.length - 1 : undefined;
    return { tokens: row.tokens, targets: row.targets, past, keepKv: kvCache !== null && item.partial === true, keepKvPrefix };
  }

  /** Fills both caches from a computed row. */
  private store(item: PipelineItem, lookup: ItemLookup, lp: ItemLogprobs, result: PairResult): void {
    const segs = item.segments;
    const first = lookup.cached.length + 1;
    const fresh = stepSlices(segs, first, lp);
    this.o.caches.logprobs.setMany(fresh.map((v, j) => [lookup.chain.logprobKey(first + j), v] as const));
    const kvCache = this.o.caches.kv;
    if (kvCache === null) return;
    const total = segs.reduce((n, s) => n + s.length, 0);
    // All tokens but the last: the next extension re-feeds that token (module comment).
    if (result.kv) kvCache.set(lookup.chain.key(segs.length - 1), result.kv, total - 1);
    const h0 = lookup.chain.key(0);
    if (result.prefixKv && !kvCache.has(h0)) kvCache.set(h0, result.prefixKv, result.prefixKv.length);
  }

  /**
   * KV of all prompt tokens but the last, computed once however many items/requests want it.
   * Each caller gets its own reference and must release it.
   */
  private promptKv(key: string, prompt: ArrayLike<number>, reservation?: Reservation): Promise<PrefixKv> {
    let entry = this.inflightPrompts.get(key);
    if (!entry) {
      const tokens = Int32Array.from({ length: prompt.length - 1 }, (_, i) => prompt[i]);
      const e: InflightPrompt = { claims: 0, promise: Promise.resolve(null as never) };
      // Shared work runs under no one request's signal: requests of other clients may wait on
      // it, and the end of the one that started it (cancelled, late, refused) must not fail them.
      const row = { tokens, targets: new Int32Array(tokens.length).fill(-1), past: null, keepKv: true };
      e.promise = this.batcher.submit(row, undefined, reservation).then(
        (r) => {
          countSharedEngineTokens(tokens.length);
          // Removed in the same tick as the claims are counted: a later caller finds it in the KV cache.
          this.inflightPrompts.delete(key);
          const kv = r.kv!;
          this.o.caches.kv?.set(key, kv, kv.length);
          for (let c = 1; c < e.claims; c++) kv.retain();
          return { kv, length: kv.length };
        },
        (err: unknown) => {
          this.inflightPrompts.delete(key);
          throw err;
        },
      );
      this.inflightPrompts.set(key, e);
      entry = e;
    }
    entry.claims++;
    return entry.promise;
  }

  drain(): Promise<void> {
    return this.batcher.drain();
  }

  close(): void {
    this.batcher.close();
  }
}

/** What each item's computation shares with the rest of its request. */
interface ItemRun {
  demand: ReadonlyMap<string, number>;
  signal: AbortSignal;
  reservation?: Reservation;
  ledger?: EngineLedger;
}

/** Every step's log-probs came from the log-prob cache. */
function complete(item: PipelineItem, lookup: ItemLookup): boolean {
  return lookup.cached.length === item.segments.length - 1;
}

/**
 * One pipeline (queue + batcher) per loaded bundle object: a reloaded bundle gets a new one, and
 * the replaced version's queue is closed once no request uses it (rows still running finish).
 */
export class BundlePipelines {
  private readonly pipelines = new Map<LoadedBundle, LogprobPipeline>();

  constructor(
    private readonly caches: Caches,
    private readonly batching: BatcherOptions,
    private readonly logger: Logger,
  ) {}

  of(bundle: LoadedBundle): LogprobPipeline {
    let p = this.pipelines.get(bundle);
    if (!p) {
      p = new LogprobPipeline({ fingerprint: bundle.fingerprint, models: bundle.models, caches: this.caches, batcher: this.batchingOf(bundle) });
      this.pipelines.set(bundle, p);
    }
    return p;
  }

  /** The batcher's settings for one bundle: its passes' token budget also bounded by their bytes. */
  private batchingOf(bundle: LoadedBundle): BatcherOptions {
    const base = this.batching;
    const models = [bundle.manifest.policy, ...(bundle.manifest.reference ? [bundle.manifest.reference] : [])];
    const maxBatchTokens = tokenBudget(models, base.maxBatchTokens, base.maxBatchBytes ?? Number.POSITIVE_INFINITY);
    if (maxBatchTokens < base.maxBatchTokens) {
      this.logger.info({ bundle: bundle.name, maxBatchTokens },
        `bundle "${bundle.name}": passes of at most ${maxBatchTokens} padded tokens (MAX_BATCH_BYTES)`);
    }
    return { ...base, maxBatchTokens };
  }

  /** Closes a replaced version's queue and waits for its rows; its KV-cache entries go with its models. */
  async retire(bundle: LoadedBundle): Promise<void> {
    const p = this.pipelines.get(bundle);
    if (p) {
      this.pipelines.delete(bundle);
      p.close();
      await p.drain();
    }
    // Its KV lives in the models about to be released: such entries could never serve again.
    this.caches.kv?.dropModels(bundle.models);
  }

  async close(): Promise<void> {
    const all = [...this.pipelines.values()];
    for (const p of all) p.close();
    await Promise.all(all.map((p) => p.drain()));
    this.pipelines.clear();
  }
}

/**
 * One request's rows fail together: once one of its items fails (a full queue, say), the signal
 * given to the others aborts, so their rows still waiting leave the queue instead of spending the
 * engine on an answer nobody will read. The request's own signal aborts it too.
 */
function failFast(outer: AbortSignal | undefined) {
  const controller = new AbortController();
  // Each of the request's queued rows listens until its batch starts: many listeners, not a leak.
  setMaxListeners(0, controller.signal);
  const follow = () => controller.abort(outer!.reason);
  if (outer?.aborted) follow();
  else outer?.addEventListener('abort', follow, { once: true });
  return {
    signal: controller.signal,
    async guard<T>(work: () => Promise<T>): Promise<T> {
      try {
        return await work();
      } catch (err) {
        if (!controller.signal.aborted) controller.abort(err);
        throw err;
      }
    },
    done: () => outer?.removeEventListener('abort', follow),
  };
}
