/**
 * Concurrent HTTP load for the process-level tests: `clients` loops, each sending one request at a
 * time over keep-alive connections until `stop()` says so. Every answer is recorded; a network
 * error counts as a failure like a non-2xx status, so "zero failed requests" means exactly that.
 */
import { closedLoop } from '../harness/closed-loop.js';

export interface Sent {
  index: number;
  status: number | 'network-error';
  body: unknown;
  /** Performance clock when it was sent and when its answer arrived (for ordering, not timing). */
  sentAt: number;
  doneAt: number;
}

export interface LoadOptions {
  url: string;
  clients: number;
  /** The body of request number `i` (0, 1, 2, … across all clients). */
  body: (i: number) => unknown;
  /** Asked before each request; true ends that client's loop. */
  stop: (sent: number) => boolean;
  headers?: Record<string, string>;
  /** Called after each answer (e.g. to kill Redis after the 30th). */
  onAnswer?: (s: Sent, answered: number) => void | Promise<void>;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, body: parsed };
}

export async function runLoad(o: LoadOptions): Promise<Sent[]> {
  const all: Sent[] = [];
  let next = 0;
  await closedLoop(o.clients, () => (o.stop(next) ? null : next++), async (index) => {
    const sentAt = performance.now();
    let s: Sent;
    try {
      const r = await postJson(o.url, o.body(index), o.headers);
      s = { index, status: r.status, body: r.body, sentAt, doneAt: performance.now() };
    } catch (err) {
      s = { index, status: 'network-error', body: String((err as Error).cause ?? err), sentAt, doneAt: performance.now() };
    }
    all.push(s);
    await o.onAnswer?.(s, all.length);
  });
  return all;
}

export function failures(sent: Sent[]): Sent[] {
  return sent.filter((s) => s.status !== 200);
}
