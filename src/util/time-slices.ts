/**
 * Long loops on the event loop in slices: a loop over a request's items (tokenizing, cache keys,
 * rewards, serializing the answer) gives the loop back whenever it has run SLICE_MS, so health
 * probes, other requests and I/O callbacks are not held behind one large request, nor behind many
 * (the loops that wait take one turn each, in order).
 */

/** How long one slice of a loop runs before the event loop is given back. */
export const SLICE_MS = 10;

/** Loops waiting for their next slice, in the order they gave the event loop back. */
const waiting: (() => void)[] = [];
let resuming = false;

/**
 * Resumes one waiting loop per turn of the event loop. An immediate queued while immediates run
 * waits for the next turn, so timers and I/O callbacks come between any two slices: with many
 * requests in slices at once, each turn holds one slice, not one slice of each of them, and the
 * loops take their turns in order.
 */
function resumeNext(): void {
  waiting.shift()?.();
  if (waiting.length > 0) setImmediate(resumeNext);
  else resuming = false;
}

/** Settles on a later turn of the event loop, after the I/O callbacks waiting now and the slices of loops that yielded first. */
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => {
    waiting.push(resolve);
    if (resuming) return;
    resuming = true;
    setImmediate(resumeNext);
  });
}

/** The running slice of one loop. */
export class TimeSlices {
  private startedAt = performance.now();

  constructor(private readonly sliceMs = SLICE_MS) {}

  /** The slice has run its time. */
  get due(): boolean {
    return performance.now() - this.startedAt >= this.sliceMs;
  }

  /** Gives the event loop back if the slice is due; a new slice starts after. */
  async pass(): Promise<void> {
    if (!this.due) return;
    await nextTurn();
    this.startedAt = performance.now();
  }
}

/**
 * `fn` over every element, in slices. Stages of one request that follow each other pass the same
 * `slices`: a stage starting in the turn where the one before it ended then continues its slice,
 * instead of running a slice of its own in the same turn.
 */
export async function mapInSlices<T, U>(xs: readonly T[], fn: (x: T, i: number) => U, slices = new TimeSlices()): Promise<U[]> {
  const out: U[] = [];
  for (let i = 0; i < xs.length; i++) {
    if (slices.due) await slices.pass();
    out.push(fn(xs[i]!, i));
  }
  return out;
}
