/**
 * Bounded memo of text → token ids for one tokenizer.
 *
 * The traffic this service sees repeats its texts: 8–64 rollouts share a prompt, tree search
 * re-sends every earlier step each time a trace grows, and RL loops re-score whole batches. For a
 * fully cached request tokenization is most of the server time (a few hundred µs per kilotoken),
 * so a hit here is what keeps such requests at a hash lookup per segment.
 *
 * Entries live in the caches' ByteLru, bounded by bytes (the text, counted by ByteLru, plus 8 bytes
 * per id); texts longer than `maxTextLength` are not kept (a long unique text would evict many
 * short shared ones). The arrays handed out are frozen: callers share them.
 */
import { ByteLru } from '../util/byte-lru.js';

export class TokenMemo {
  private readonly lru: ByteLru<readonly number[]>;

  constructor(
    private readonly encode: (text: string) => number[],
    maxBytes = 10 * 1024 * 1024,
    private readonly maxTextLength = 2_048,
  ) {
    this.lru = new ByteLru(maxBytes, (ids) => ids.length * 8);
  }

  get size(): number {
    return this.lru.size;
  }

  /** Bytes currently counted against the bound. */
  get bytes(): number {
    return this.lru.bytes;
  }

  ids(text: string): readonly number[] {
    const hit = this.lru.get(text);
    if (hit !== undefined) return hit;
    const ids = Object.freeze(this.encode(text));
    if (text.length <= this.maxTextLength) this.lru.set(text, ids);
    return ids;
  }
}
