/**
 * The engine's work by what became of the request it was done for. A request adds the tokens of
 * its rows as they run and, once its answer is decided, counts them under `succeeded` or `failed`
 * in `prm_engine_request_tokens_total`; rows that finish after their request has failed (they were
 * already running) count as failed. Tokens, not seconds: a batch's wall time also holds the wait
 * for a busy event loop, and a pass costs about the same per token whoever it serves. The share
 * that reaches answered requests is what admission under overload protects.
 */
import { metrics } from '../metrics.js';

export type EngineOutcome = 'succeeded' | 'failed' | 'shared';

export class EngineLedger {
  private pendingTokens = 0;
  private outcome: EngineOutcome | null = null;

  add(tokens: number): void {
    if (this.outcome !== null) metrics.requestEngineTokens.inc({ outcome: this.outcome }, tokens);
    else this.pendingTokens += tokens;
  }

  /** The request's answer is decided; later additions go straight to the same outcome. */
  settle(outcome: Exclude<EngineOutcome, 'shared'>): void {
    if (this.outcome !== null) return;
    this.outcome = outcome;
    if (this.pendingTokens > 0) metrics.requestEngineTokens.inc({ outcome }, this.pendingTokens);
    this.pendingTokens = 0;
  }
}

/** Work several requests wait on (a shared prompt's pass) belongs to none of them. */
export function countSharedEngineTokens(tokens: number): void {
  metrics.requestEngineTokens.inc({ outcome: 'shared' }, tokens);
}
