/**
 * The engine's threads run at PRM_ENGINE_NICENESS and the HTTP thread at the process's own
 * priority, in the real server: the threads that did a burst of forward passes (the most CPU time
 * after the main thread, read from /proc) are the ones lowered, and the main thread is not.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lowerThisThreadsPriority } from '../../src/engine/worker/thread-niceness.js';
import { ServerProcess } from '../harness/server-process.js';
import { trace } from '../helpers/traces.js';

interface ThreadStat {
  tid: number;
  niceness: number;
  cpuTicks: number;
}

/** Every thread of `pid` with its niceness and CPU time (utime + stime, clock ticks). */
function threads(pid: number): ThreadStat[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((t) => {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    } catch {
      return []; // a thread that ended meanwhile
    }
    // Fields after the command name, which may hold spaces: state is field 3 of stat(5).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [{ tid: Number(t), cpuTicks: Number(f[11]) + Number(f[12]), niceness: Number(f[16]) }];
  });
}

async function scoreBurst(url: string, seed: number): Promise<void> {
  const items = Array.from({ length: 128 }, (_, i) => trace(seed + i, 6));
  const res = await fetch(`${url}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items }) });
  expect(res.status).toBe(200);
}

describe.runIf(process.platform === 'linux')('engine thread niceness', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    // One thread per model: the passes run on the two engine workers themselves.
    server = await ServerProcess.start({ PRM_ENGINE_NICENESS: '7', PRM_INTRA_OP_THREADS: '2' });
  }, 60_000);

  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
  });

  it('lowers the threads that run forward passes, not the HTTP thread', async () => {
    const before = new Map(threads(server.pid).map((t) => [t.tid, t.cpuTicks]));
    for (let seed = 1_000; seed < 1_000 + 4 * 128; seed += 128) await scoreBurst(server.url, seed);
    const after = threads(server.pid);
    const main = after.find((t) => t.tid === server.pid)!;
    const busiest = after
      .filter((t) => t.tid !== server.pid)
      .map((t) => ({ ...t, used: t.cpuTicks - (before.get(t.tid) ?? 0) }))
      .sort((a, b) => b.used - a.used)
      .slice(0, 2);
    expect(main.niceness).toBe(0);
    expect(busiest.map((t) => t.niceness)).toEqual([7, 7]);
    // The two passes did real work (a pass per batch, each a few ms): not two idle threads.
    for (const t of busiest) expect(t.used).toBeGreaterThan(0);
  }, 120_000);
});

describe('lowerThisThreadsPriority', () => {
  it('leaves the priority alone at 0, and where it would reach the whole process', () => {
    expect(lowerThisThreadsPriority(0)).toEqual({ applied: false, reason: 'niceness 0' });
    expect(lowerThisThreadsPriority(10, 'darwin')).toEqual({ applied: false, reason: 'on darwin it would apply to the whole process' });
  });
});
