/**
 * Long loops on the event loop in slices: a loop over a request's items (tokenizing, cache keys,
 * rewards, serializing the answer) gives the loop back whenever it has run SLICE_MS, so health
 * probes, other requests and I/O callbacks are not held behind one large request.
 */

/** How long one slice of a loop runs before the event loop is given back. */
export const SLICE_MS = 10;

/** Settles on a later turn of the event loop, after the I/O callbacks waiting now. */
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
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

/** `fn` over every element, in slices. */
export async function mapInSlices<T, U>(xs: readonly T[], fn: (x: T, i: number) => U): Promise<U[]> {
  const slices = new TimeSlices();
  const out: U[] = [];
  for (let i = 0; i < xs.length; i++) {
    await slices.pass();
    out.push(fn(xs[i]!, i));
  }
  return out;
}
