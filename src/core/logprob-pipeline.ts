/**
 * Per-token log-probs of step-segmented traces, computed as little as possible:
 *
 *  1. tier 1 (log-probs per segment, hash-chain keys): one lookup for all items; an item whose
 *     whole chain hits never reaches the engine;
 *  2. tier 2 (KV of prefixes): the row starts at the longest prefix whose past key/values are in
 *     memory, so extending a cached trace by one step feeds only that step (+1 token); the KV
 *     stays with the models (a handle, engine/types.ts), held by reference counts (SharedKv);
 *  3. shared prompts: when several items of a request share a prompt with no KV yet, the prompt
 *     is run once and its KV becomes every item's past (also for concurrent requests: the
 *     in-flight computation is awaited, not repeated);
 *  4. the rest goes through the batcher to the engine, and both tiers are filled from the result.
 *
 * Rewards are computed elsewhere (rewards.ts) from the float32 outputs returned here, so cached
 * and fresh results are identical whatever path produced them.
 */
import { Batcher, type BatcherOptions } from '../batching/batcher.js';
import { SharedKv, type KvPrefixCache, type PrefixKv } from '../cache/kv-prefix-cache.js';
import type { LogprobCache, SegmentLogprobs } from '../cache/logprob-cache.js';
import { hashChain, logprobKey, type SegmentHash } from '../cache/segment-keys.js';
import { metrics } from '../metrics.js';
import { runForward, type ItemLogprobs, type ModelPair } from './compute-logprobs.js';

export interface PipelineItem {
  /** [prompt segment, step 1, ..., step n] token ids. */
  readonly segments: readonly ArrayLike<number>[];
  /**
   * The trace will be extended (a `partial` request), so the KV of its tokens goes to tier 2.
   * A finished trace's KV is not kept: no later request can start from it (its last segment ends
   * the trace), and fetching and storing it costs a fifth of a forward pass or more.
   */
  readonly continues?: boolean;
}

export interface PipelineOptions {
  modelName: string;
  fingerprint: string;
  models: ModelPair;
  tier1: LogprobCache;
  /** null disables tier 2. */
  tier2: KvPrefixCache | null;
  batcher: BatcherOptions;
}

interface RowJob {
  tokens: Int32Array;
  targets: Int32Array;
  /** Held (retained) by the submitter until the row's result arrives. */
  past: PrefixKv | null;
  keepKv: boolean;
  /** Also keep the KV of this many first positions on its own (the prompt's tier-2 entry). */
  keepKvPrefix?: number;
}

interface RowResult {
  policy: Float32Array;
  reference: Float32Array | null;
  /** KV of past + tokens when kept: one reference, owned by the submitter, who must release it. */
  kv: SharedKv | null;
  /** With keepKvPrefix: that prefix's KV, also owned by the submitter. */
  prefixKv: SharedKv | null;
  /** performance.now() when its batch started: queue time = startedAt − submit time. */
  startedAt: number;
}

interface InflightPrompt {
  promise: Promise<PrefixKv>;
  /** Callers waiting for it; each gets its own reference. */
  claims: number;
}

export interface PipelineResult {
  items: ItemLogprobs[];
  /** Longest time any of the request's rows waited for its batch, ms. */
  queueMs: number;
}

/** Start offset of every segment in the concatenated sequence, plus the total length at the end. */
function offsets(segments: readonly ArrayLike<number>[]): number[] {
  const out = [0];
  for (const s of segments) out.push(out[out.length - 1] + s.length);
  return out;
}

function concat(segments: readonly ArrayLike<number>[], total: number): Int32Array {
  const out = new Int32Array(total);
  let at = 0;
  for (const s of segments) {
    for (let i = 0; i < s.length; i++) out[at + i] = s[i];
    at += s.length;
  }
  return out;
}

export class LogprobPipeline {
  readonly batcher: Batcher<RowJob, RowResult>;
  private readonly inflightPrompts = new Map<string, InflightPrompt>();

  constructor(private readonly o: PipelineOptions) {
    this.batcher = new Batcher<RowJob, RowResult>((jobs) => this.runBatch(jobs), (j) => j.tokens.length, o.batcher);
  }

  /** The engine call of one batch (runForward: policy and reference, timed). */
  private async runBatch(jobs: RowJob[]): Promise<RowResult[]> {
    const startedAt = performance.now();
    const { models } = this.o;
    const rows = (role: 'policy' | 'reference') =>
      jobs.map((j) => ({
        tokens: j.tokens,
        targets: j.targets,
        past: j.past === null ? undefined : (role === 'policy' ? j.past.kv.policy : j.past.kv.reference!),
        pastLength: j.past?.length,
        keepKv: j.keepKv,
        keepKvPrefix: j.keepKvPrefix,
      }));
    const out = await runForward(models, rows('policy'), undefined, models.reference ? rows('reference') : undefined);
    const shared = (i: number, which: 'kv' | 'prefixKv') =>
      new SharedKv(models, out.policy[i][which]!, out.reference ? out.reference[i][which]! : null);
    return jobs.map((j, i) => ({
      policy: out.policy[i].logprobs,
      reference: out.reference ? out.reference[i].logprobs : null,
      kv: j.keepKv ? shared(i, 'kv') : null,
      prefixKv: j.keepKvPrefix !== undefined ? shared(i, 'prefixKv') : null,
      startedAt,
    }));
  }

  /**
   * KV of all prompt tokens but the last, computed once however many items/requests want it.
   * Each caller gets its own reference and must release it.
   */
  private promptKv(h0: SegmentHash, prompt: ArrayLike<number>, signal?: AbortSignal): Promise<PrefixKv> {
    const key = h0.toString('base64url');
    let entry = this.inflightPrompts.get(key);
    if (!entry) {
      const tokens = Int32Array.from({ length: prompt.length - 1 }, (_, i) => prompt[i]);
      const e: InflightPrompt = { claims: 0, promise: Promise.resolve(null as never) };
      e.promise = this.batcher.submit({ tokens, targets: new Int32Array(tokens.length).fill(-1), past: null, keepKv: true }, signal).then(
        (r) => {
          // Removed in the same tick as the claims are counted: a later caller finds it in tier 2.
          this.inflightPrompts.delete(key);
          const kv = r.kv!;
          this.o.tier2?.set(h0, kv, kv.length);
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

  async compute(items: readonly PipelineItem[], signal?: AbortSignal): Promise<PipelineResult> {
    const submittedAt = performance.now();
    let queueMs = 0;
    const { fingerprint, tier1, tier2 } = this.o;
    const hasRef = this.o.models.reference !== null;
    const chains = items.map((it) => hashChain(fingerprint, it.segments));
    const keys = chains.map((ch) => ch.slice(1).map((hk) => logprobKey(ch[0], hk)));
    const found = await tier1.getMany(keys.flat());

    // Longest cached step prefix per item; a value of the wrong shape counts as a miss.
    let at = 0;
    const cached: SegmentLogprobs[][] = items.map((it, i) => {
      const vals = found.slice(at, at + keys[i].length);
      at += keys[i].length;
      const out: SegmentLogprobs[] = [];
      for (let k = 0; k < vals.length; k++) {
        const v = vals[k];
        if (!v || v.policy.length !== it.segments[k + 1].length || (v.reference !== null) !== hasRef) break;
        out.push(v);
      }
      metrics.cacheHits.inc({ tier: 'tier1' }, out.length);
      metrics.cacheMisses.inc({ tier: 'tier1' }, vals.length - out.length);
      return out;
    });

    // Which items share a prompt with no KV in memory: their prompt is run once, first.
    const promptUsers = new Map<string, number>();
    const kvHits = items.map((it, i) => {
      if (cached[i].length === it.segments.length - 1 || !tier2) return null;
      const hit = tier2.longest(chains[i]);
      if (!hit && it.segments[0].length > 1) {
        const key = chains[i][0].toString('base64url');
        promptUsers.set(key, (promptUsers.get(key) ?? 0) + 1);
      }
      return hit;
    });

    const results = await Promise.all(
      items.map(async (it, i): Promise<ItemLogprobs> => {
        const segs = it.segments;
        const off = offsets(segs);
        const total = off[off.length - 1];
        const responseLen = total - off[1];
        const c = cached[i].length;
        const policy = new Float32Array(responseLen);
        const reference = hasRef ? new Float32Array(responseLen) : null;
        let cachedTokens = 0;
        for (let k = 0; k < c; k++) {
          policy.set(cached[i][k].policy, off[k + 1] - off[1]);
          reference?.set(cached[i][k].reference!, off[k + 1] - off[1]);
          cachedTokens += segs[k + 1].length;
        }
        if (c === segs.length - 1) return { policy, reference, cachedTokens };

        // The row: first needed token is at `need`; feed from `from` (≤ need − 1) with a past.
        const need = off[c + 1];
        let from = 0;
        let past: PrefixKv | null = null;
        const hit = kvHits[i];
        const h0key = chains[i][0].toString('base64url');
        try {
          if (hit) {
            from = Math.min(hit.prefix.length, need - 1);
            past = { kv: hit.prefix.kv, length: from };
          } else if (tier2 && ((promptUsers.get(h0key) ?? 0) > 1 || this.inflightPrompts.has(h0key))) {
            past = await this.promptKv(chains[i][0], segs[0], signal);
            from = past.length;
          }
          const full = concat(segs, total);
          const tokens = full.subarray(from);
          const targets = new Int32Array(tokens.length).fill(-1);
          for (let p = Math.max(from, need - 1); p < total - 1; p++) targets[p - from] = full[p + 1];
          // The prompt's own entry, when missing: a compact copy, so it never pins the whole trace.
          const keepKvPrefix = tier2 && segs[0].length > 1 && !tier2.has(chains[i][0]) ? segs[0].length - 1 : undefined;
          const keepKv = tier2 !== null && it.continues === true;
          const row = await this.batcher.submit({ tokens, targets, past, keepKv, keepKvPrefix }, signal);
          try {
            queueMs = Math.max(queueMs, row.startedAt - submittedAt);
            for (let t = need; t < total; t++) {
              policy[t - off[1]] = row.policy[t - 1 - from];
              if (reference) reference[t - off[1]] = row.reference![t - 1 - from];
            }

            const fresh: [string, SegmentLogprobs][] = [];
            for (let k = c + 1; k < segs.length; k++) {
              const a = off[k] - off[1];
              const b = off[k + 1] - off[1];
              fresh.push([keys[i][k - 1], { policy: policy.slice(a, b), reference: reference ? reference.slice(a, b) : null }]);
            }
            tier1.setMany(fresh);
            // All tokens but the last: the next extension re-feeds that token (module comment).
            if (tier2 && row.kv) tier2.set(chains[i][segs.length - 1], row.kv, total - 1);
            if (tier2 && row.prefixKv && !tier2.has(chains[i][0])) tier2.set(chains[i][0], row.prefixKv, row.prefixKv.length);
          } finally {
            row.kv?.release();
            row.prefixKv?.release();
          }
        } finally {
          // The hit (retained by the lookup) or the prompt's KV (retained for this caller).
          past?.kv.release();
          if (hit && past === null) hit.prefix.kv.release();
        }
        return { policy, reference, cachedTokens };
      }),
    );
    return { items: results, queueMs };
  }

  drain(): Promise<void> {
    return this.batcher.drain();
  }

  close(): void {
    this.batcher.close();
  }
}
