/**
 * Bounded memo of text → token ids for one tokenizer.
 *
 * The traffic this service sees repeats its texts: 8–64 rollouts share a prompt, tree search
 * re-sends every earlier step each time a trace grows, and RL loops re-score whole batches. For a
 * fully cached request tokenization is most of the server time (a few hundred µs per kilotoken),
 * so a hit here is what keeps such requests at a hash lookup per segment.
 *
 * The bound is on size, not entries: each entry counts its text's characters plus its ids
 * (about 10 bytes per unit with V8's strings and number arrays), evicted least recently used;
 * texts longer than `maxTextLength` are not kept (a long unique text would evict many short shared
 * ones). The arrays handed out are frozen: callers share them.
 */
export class TokenMemo {
  private readonly map = new Map<string, readonly number[]>();
  private units = 0;

  constructor(
    private readonly encode: (text: string) => number[],
    /** Characters + ids kept at most; 1M units ≈ 10 MB. */
    private readonly maxUnits = 1_000_000,
    private readonly maxTextLength = 2_048,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** Characters + ids currently kept. */
  get sizeUnits(): number {
    return this.units;
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
    const cost = text.length + ids.length;
    if (text.length <= this.maxTextLength && cost <= this.maxUnits) {
      while (this.units + cost > this.maxUnits) {
        const [oldText, oldIds] = this.map.entries().next().value as [string, readonly number[]];
        this.map.delete(oldText);
        this.units -= oldText.length + oldIds.length;
      }
      this.map.set(text, ids);
      this.units += cost;
    }
    return ids;
  }
}
