/**
 * Where a server's allocations come from, garbage included: preload it and signal the process.
 *
 *   node --import tsx --import ./scripts/alloc-sample.mjs src/server.ts
 *   kill -USR2 <pid>     # writes $TMPDIR/alloc.heapprofile (open it in Chrome DevTools)
 *
 * V8's sampling heap profiler (one sample per 32 KiB allocated), told to keep the objects minor
 * and major garbage collections took: what a heap snapshot cannot show, since garbage is gone by
 * then, and what decides how often and how long the collector stops the event loop.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const session = new Session();
session.connect();
await session.post('HeapProfiler.enable');
await session.post('HeapProfiler.startSampling', {
  samplingInterval: 32 * 1024,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
process.on('SIGUSR2', async () => {
  const { profile } = await session.post('HeapProfiler.stopSampling');
  const file = join(tmpdir(), 'alloc.heapprofile');
  writeFileSync(file, JSON.stringify(profile));
  process.stderr.write(`${file} written\n`);
});
