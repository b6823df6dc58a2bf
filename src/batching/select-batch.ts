/**
 * Which queued rows go into the next batch. Pure, so it is tested on its own.
 *
 * The oldest row always goes in (no starvation). The rest are the rows closest to it in length,
 * added while the padded cost (rows × longest row) stays within the token budget and the padded
 * share of the batch stays within `maxPaddingFraction`: grouping similar lengths is what keeps
 * padding low when 200- and 600-token traces share a queue, and the cap stops a budget with room
 * left from filling up with rows that mostly pad. A row left out waits for the next batch, which
 * is chosen as soon as this one finishes; on a CPU a smaller batch costs little (one row of a few
 * hundred tokens is already a large matrix product), while padded tokens cost as much as real ones.
 */

/**
 * How many rows at the head of the queue a batch may be chosen from: the fewest that hold
 * `batches` batches' worth of tokens. Rows are taken out of arrival order only within that
 * window, so a request's rows run at most a few batches later than their turn: a deadline
 * estimated from the work queued ahead of a request holds, and a row of an unusual length is not
 * passed over by an endless stream of newer rows that fit better.
 */
export function candidateWindow(queue: readonly Candidate[], maxBatchTokens: number, batches = 4): number {
  let tokens = 0;
  for (let i = 0; i < queue.length; i++) {
    tokens += queue[i].length;
    if (tokens >= batches * maxBatchTokens) return i + 1;
  }
  return queue.length;
}

export interface Candidate {
  /** New tokens this row feeds (its padded width). */
  readonly length: number;
}

export interface Selection {
  /** Indices into the candidate list, in ascending length order. */
  indices: number[];
  paddedTokens: number;
  realTokens: number;
}

export function selectBatch(
  queue: readonly Candidate[],
  maxBatchTokens: number,
  maxRows: number,
  anchor = 0,
  maxPaddingFraction = 1,
): Selection {
  if (queue.length === 0) return { indices: [], paddedTokens: 0, realTokens: 0 };
  const order = queue.map((_, i) => i).sort((a, b) => queue[a].length - queue[b].length || a - b);
  const at = order.indexOf(anchor);
  let lo = at;
  let hi = at;
  let maxLen = queue[anchor].length;
  let real = maxLen;
  // Grow a window in sorted order around the anchor, taking whichever neighbour is closer in
  // length and still fits the budget; a shorter neighbour never widens the batch.
  const anchorLen = queue[anchor].length;
  while (hi - lo + 1 < maxRows) {
    const rows = hi - lo + 2;
    const left = lo > 0 ? queue[order[lo - 1]].length : -1;
    const right = hi < order.length - 1 ? queue[order[hi + 1]].length : -1;
    // padded − real ≤ cap × padded, as products rather than a ratio (an empty batch has no ratio)
    const fits = (width: number, added: number) =>
      rows * width <= maxBatchTokens && rows * width - (real + added) <= maxPaddingFraction * rows * width;
    const leftFits = left >= 0 && fits(maxLen, left);
    const rightFits = right >= 0 && fits(Math.max(maxLen, right), right);
    if (!leftFits && !rightFits) break;
    const takeLeft = leftFits && (!rightFits || anchorLen - left <= right - anchorLen);
    if (takeLeft) {
      lo--;
      real += left;
    } else {
      hi++;
      maxLen = Math.max(maxLen, right);
      real += right;
    }
  }
  const indices = order.slice(lo, hi + 1);
  return { indices, paddedTokens: indices.length * maxLen, realTokens: real };
}
