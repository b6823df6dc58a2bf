/**
 * Correctness gate of the bench: a speed-up only counts if the service returns the rewards the
 * PyTorch reference scorer computes on the same weights and inputs. Compares per-step rewards and
 * q of every item both sides scored (cached answers included), and reports the worst difference.
 */
import type { ResultOut } from './http-load.js';
import type { TorchResult } from './torch-side.js';

export const TOLERANCE = 1e-4;

export interface CrossCheck {
  items: number;
  steps: number;
  max_abs_diff: number;
  worst_item: string | null;
  tolerance: number;
  ok: boolean;
}

export function emptyCheck(): CrossCheck {
  return { items: 0, steps: 0, max_abs_diff: 0, worst_item: null, tolerance: TOLERANCE, ok: true };
}

/** Compares service results with PyTorch results of the same id, accumulating into `into`. */
export function crossCheck(service: readonly ResultOut[], torch: readonly TorchResult[], into = emptyCheck()): CrossCheck {
  const byId = new Map(torch.map((t) => [t.id, t]));
  for (const s of service) {
    const t = byId.get(s.id);
    if (!t) continue;
    if (t.step_rewards.length !== s.steps.length) {
      throw new Error(`cross-check ${s.id}: service has ${s.steps.length} steps, PyTorch ${t.step_rewards.length}`);
    }
    into.items++;
    for (let k = 0; k < s.steps.length; k++) {
      into.steps++;
      const d = Math.max(Math.abs(s.steps[k].reward - t.step_rewards[k]), Math.abs(s.steps[k].q - t.q[k]));
      if (!(d <= into.max_abs_diff)) {
        // NaN lands here too and makes the check fail below
        into.max_abs_diff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
        into.worst_item = s.id;
      }
    }
  }
  into.ok = into.max_abs_diff <= into.tolerance;
  return into;
}
