/**
 * A bundle's two models as one engine: the policy and (unless the bundle is reference-free) the
 * reference, run on the same rows in one call, and the key/values they keep held as one
 * reference-counted pair (SharedKv). Everything above the engine talks to a ModelPair; only this
 * file calls `LogprobModel.forward` for scoring.
 *
 * On the CPU a batch takes the process-wide lane (cpu-lane.ts), its two passes side by side. When
 * one side fails, the KV the other side kept has no owner and is freed here.
 */
import { throwIfAborted } from '../abort.js';
import { metrics } from '../metrics.js';
import { onCpuLane } from './cpu-lane.js';
import type { ForwardResult, ForwardRow, KvHandle, LogprobModel } from './types.js';

/** The policy's and reference's KV of one sequence, freed when its last holder releases it. */
export class SharedKv {
  private refs = 1;

  /** Starts with one reference, owned by whoever computed it. */
  constructor(
    readonly models: ModelPair,
    readonly policy: KvHandle,
    /** null for reference-free bundles. */
    readonly reference: KvHandle | null,
  ) {}

  /** Positions covered (policy and reference always cover the same tokens). */
  get length(): number {
    return this.policy.length;
  }

  get bytes(): number {
    return this.policy.bytes + (this.reference?.bytes ?? 0);
  }

  retain(): this {
    if (this.refs <= 0) throw new Error('retain of key/values already released');
    this.refs++;
    return this;
  }

  release(): void {
    if (this.refs <= 0) throw new Error('key/values released more often than retained');
    if (--this.refs > 0) return;
    this.models.policy.releaseKv(this.policy);
    if (this.reference !== null) this.models.reference?.releaseKv(this.reference);
  }
}

/** The first `length` positions of a shared KV. */
export interface PrefixKv {
  kv: SharedKv;
  length: number;
}

/** One row for both models; its past is a pair's KV, cut to its first `length` positions. */
export interface PairRow {
  tokens: ArrayLike<number>;
  targets: ArrayLike<number>;
  past?: PrefixKv | null;
  /** Return the KV of past + tokens. */
  keepKv?: boolean;
  /** Also return the KV of this many first positions on its own (ForwardRow.keepKvPrefix). */
  keepKvPrefix?: number;
}

export interface PairResult {
  policy: Float32Array;
  reference: Float32Array | null;
  /** With keepKv: one reference, owned by the caller, who must release it. */
  kv: SharedKv | null;
  /** With keepKvPrefix: that prefix's KV, also owned by the caller. */
  prefixKv: SharedKv | null;
}

type Role = 'policy' | 'reference';

export class ModelPair {
  constructor(
    readonly policy: LogprobModel,
    /** null for a reference-free bundle. */
    readonly reference: LogprobModel | null,
  ) {}

  /** Log-probs (and kept KV) of every row from both models, in row order. */
  async forward(rows: readonly PairRow[], signal?: AbortSignal): Promise<PairResult[]> {
    const out = await this.runBoth(rowsFor(rows, 'policy'), this.reference ? rowsFor(rows, 'reference') : [], signal);
    const pairKv = (i: number, which: 'kv' | 'prefixKv') =>
      new SharedKv(this, out.policy[i][which]!, out.reference ? out.reference[i][which]! : null);
    return rows.map((row, i) => ({
      policy: out.policy[i].logprobs,
      reference: out.reference ? out.reference[i].logprobs : null,
      kv: row.keepKv === true ? pairKv(i, 'kv') : null,
      prefixKv: row.keepKvPrefix !== undefined ? pairKv(i, 'prefixKv') : null,
    }));
  }

  /** Both passes, timed, in the CPU lane; on a failure of either, the other's KV is freed. */
  private async runBoth(
    policyRows: readonly ForwardRow[],
    referenceRows: readonly ForwardRow[],
    signal?: AbortSignal,
  ): Promise<{ policy: ForwardResult[]; reference: ForwardResult[] | null }> {
    throwIfAborted(signal);
    const end = metrics.inferDuration.startTimer();
    try {
      const [policy, reference] = await onCpuLane([this.policy, this.reference], () => {
        // Checked again at the head of the lane: a batch cancelled while waiting is never run.
        throwIfAborted(signal);
        return Promise.allSettled([
          this.policy.forward(policyRows, signal),
          this.reference ? this.reference.forward(referenceRows, signal) : Promise.resolve(null),
        ]);
      });
      if (policy.status === 'fulfilled' && reference.status === 'fulfilled') return { policy: policy.value, reference: reference.value };
      if (policy.status === 'fulfilled') freeKept(this.policy, policy.value);
      if (reference.status === 'fulfilled' && reference.value) freeKept(this.reference!, reference.value);
      throw policy.status === 'rejected' ? policy.reason : (reference as PromiseRejectedResult).reason;
    } finally {
      end();
    }
  }

  async dispose(): Promise<void> {
    await Promise.all([this.policy.dispose(), this.reference?.dispose()]);
  }
}

/** The rows as one model sees them: its own half of each past. */
function rowsFor(rows: readonly PairRow[], role: Role): ForwardRow[] {
  return rows.map((r) => ({
    tokens: r.tokens,
    targets: r.targets,
    past: r.past ? (role === 'policy' ? r.past.kv.policy : r.past.kv.reference!) : undefined,
    pastLength: r.past?.length,
    keepKv: r.keepKv,
    keepKvPrefix: r.keepKvPrefix,
  }));
}

function freeKept(model: LogprobModel, results: readonly ForwardResult[]): void {
  for (const r of results) for (const kv of [r.kv, r.prefixKv]) if (kv) model.releaseKv(kv);
}
