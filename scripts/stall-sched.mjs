/**
 * Whether an event-loop stall was work or sleep: preload it into the server and read the lines.
 *
 *   node --import tsx --import ./scripts/stall-sched.mjs src/server.ts
 *
 * Every 5 ms timer gap over 80 ms is appended to $TMPDIR/stalls.txt with how long the main thread
 * ran on a core and how long it waited for one meanwhile (/proc/self/task/<pid>/schedstat, Linux).
 * A gap of which it neither ran nor waited, it slept: blocked on a lock or condition, not busy and
 * not crowded out by other threads.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

const FILE = join(tmpdir(), 'stalls.txt');
const schedstat = () => readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number);

if (isMainThread) {
  let last = process.hrtime.bigint();
  let lastSched = schedstat();
  const tick = () => {
    const now = process.hrtime.bigint();
    const gapMs = Number(now - last) / 1e6;
    const sched = schedstat();
    if (gapMs > 80) {
      const [ran, waited] = [0, 1].map((i) => ((sched[i] - lastSched[i]) / 1e6).toFixed(1));
      appendFileSync(FILE, `${new Date().toISOString()} stall ${gapMs.toFixed(1)} ms: ran ${ran} ms, waited for a core ${waited} ms\n`);
    }
    last = now;
    lastSched = sched;
    setTimeout(tick, 5).unref();
  };
  setTimeout(tick, 5).unref();
}
