/**
 * The key/values a model's worker thread holds for the main thread, by number (protocol.ts).
 *
 * The main thread decides when a KV is no longer needed (a KV cache eviction, a row finished) and
 * says so with a `release` message; messages are handled in order, so a release can never overtake
 * the forward pass that still reads that past. Numbers are never reused: a stale number fails
 * loudly instead of silently naming someone else's prefix.
 */
import type { KvState } from '../types.js';
import type { WireKv } from './protocol.js';

export class WorkerKvStore {
  private readonly held = new Map<number, KvState>();
  private nextId = 1;
  private heldBytes = 0;

  /** Keeps a KV and returns its handle. The same arrays may be held under several numbers. */
  hold(kv: KvState): WireKv {
    const id = this.nextId++;
    this.held.set(id, kv);
    this.heldBytes += kv.bytes;
    return { id, length: kv.length, bytes: kv.bytes };
  }

  get(id: number): KvState {
    const kv = this.held.get(id);
    if (kv === undefined) throw new RangeError(`past key/values #${id} are not held by this model (released, or another model's)`);
    return kv;
  }

  /** Unknown numbers are ignored: releasing twice is harmless. */
  release(ids: readonly number[]): void {
    for (const id of ids) {
      const kv = this.held.get(id);
      if (kv === undefined) continue;
      this.held.delete(id);
      this.heldBytes -= kv.bytes;
    }
  }

  get size(): number {
    return this.held.size;
  }

  /** Bytes of the handles held (arrays held under two numbers count twice). */
  get bytes(): number {
    return this.heldBytes;
  }
}
