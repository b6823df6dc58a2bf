/**
 * The engine's threads may yield the cores to the HTTP thread (PRM_ENGINE_NICENESS). On the CPU a
 * forward pass keeps its threads busy for as long as there are rows, and at equal priority the
 * event loop waits its turn behind them: with both cores of a 2-core machine computing, the HTTP
 * thread waited 20–45 ms for a core in many stalls (docs/reliability.md). A worker that runs a
 * session lowers its own priority before the session starts, so the onnxruntime threads the
 * session starts from it inherit the same niceness; the HTTP thread and the tokenizer threads
 * keep theirs.
 */
import { setPriority } from 'node:os';

/** What became of the request: applied, not possible on this platform, or refused by the OS. */
export type NicenessOutcome = { applied: true } | { applied: false; reason: string };

/**
 * Sets the calling thread's niceness (0 = unchanged). Linux only: there, setpriority(2) on "this
 * process" applies to the calling thread; elsewhere it would apply to the whole process, the HTTP
 * thread included.
 */
export function lowerThisThreadsPriority(niceness: number, platform: NodeJS.Platform = process.platform): NicenessOutcome {
  if (niceness === 0) return { applied: false, reason: 'niceness 0' };
  if (platform !== 'linux') return { applied: false, reason: `on ${platform} it would apply to the whole process` };
  try {
    setPriority(niceness);
    return { applied: true };
  } catch (err) {
    return { applied: false, reason: (err as Error).message };
  }
}
