/**
 * Bounded memo of text → token ids for one tokenizer.
 *
 * The traffic this service sees repeats its texts: 8–64 rollouts share a prompt, tree search
 * re-sends every earlier step each time a trace grows, and RL loops re-score whole batches. For a
 * fully cached request tokenization is most of the server time (a few hundred µs per kilotoken),
 * so a hit here is what keeps such requests at a hash lookup per segment.
 *
 * Entries are evicted least recently used beyond `maxEntries`; texts longer than `maxTextLength`
 * are not kept (a long unique text would evict many short shared ones). The arrays handed out are
 * frozen: callers share them.
 */
export class TokenMemo {
  private readonly map = new Map<string, readonly number[]>();

  constructor(
    private readonly encode: (text: string) => number[],
    private readonly maxEntries = 16_384,
    private readonly maxTextLength = 2_048,
  ) {}

  get size(): number {
    return this.map.size;
  }

  ids(text: string): readonly number[] {
    const hit = this.map.get(text);
    if (hit !== undefined) {
      // Re-insert so that Map order is recency order.
      this.map.delete(text);
      this.map.set(text, hit);
      return hit;
    }
    const ids = Object.freeze(this.encode(text));
    if (text.length <= this.maxTextLength && this.maxEntries > 0) {
      if (this.map.size >= this.maxEntries) this.map.delete(this.map.keys().next().value as string);
      this.map.set(text, ids);
    }
    return ids;
  }
}
