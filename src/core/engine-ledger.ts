/**
 * Engine time by what became of the request it was spent on. A batch's forward time is split over
 * its rows by their tokens; a request adds its rows' shares here and, once its answer is decided,
 * counts them under `succeeded` or `failed` in `prm_engine_request_seconds_total`. Rows that finish
 * after their request has failed (they were already running) count as failed. The share of engine
 * time that reaches answered requests is what admission under overload protects.
 */
import { metrics } from '../metrics.js';

export type EngineOutcome = 'succeeded' | 'failed' | 'shared';

export class EngineLedger {
  private pendingSeconds = 0;
  private outcome: EngineOutcome | null = null;

  add(seconds: number): void {
    if (this.outcome !== null) metrics.requestEngineSeconds.inc({ outcome: this.outcome }, seconds);
    else this.pendingSeconds += seconds;
  }

  /** The request's answer is decided; later additions go straight to the same outcome. */
  settle(outcome: Exclude<EngineOutcome, 'shared'>): void {
    if (this.outcome !== null) return;
    this.outcome = outcome;
    if (this.pendingSeconds > 0) metrics.requestEngineSeconds.inc({ outcome }, this.pendingSeconds);
    this.pendingSeconds = 0;
  }
}

/** Work several requests wait on (a shared prompt's pass) belongs to none of them. */
export function countSharedEngineTime(seconds: number): void {
  metrics.requestEngineSeconds.inc({ outcome: 'shared' }, seconds);
}
