/**
 * scripts/malloc-stats.ts against a real process: a Python child allocates known amounts through
 * glibc (many small blocks in the main heap, one 40 MiB block mapped on its own), and gdb's call to
 * malloc_stats() must report at least those. Skipped, with the reason, where gdb is missing or
 * cannot attach to a process and leave it running (no ptrace permission, or a gdb that fails to
 * restore the traced process: "Couldn't write extended state status" kills it on some kernels).
 */
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseMallocStats, requestMallocStats } from '../../scripts/malloc-stats.js';
import { requireTrainerPython } from '../../scripts/trainer-python.js';

/** Why gdb cannot be used here, or null: it must attach, call a function and leave the process alive. */
function whyNoGdb(): string | null {
  if (spawnSync('gdb', ['--version'], { stdio: 'ignore' }).status !== 0) return 'gdb is not installed';
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const r = spawnSync('gdb', ['-p', String(sleeper.pid), '-batch', '-ex', 'call (int)getpid()'], { encoding: 'utf8', timeout: 30_000 });
    const stillRunning = spawnSync('kill', ['-0', String(sleeper.pid)]).status === 0 && sleeper.exitCode === null && sleeper.signalCode === null;
    const said = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').find((l) => /ptrace|not permitted|Couldn't|error/i.test(l))?.trim();
    if (r.status !== 0 || !new RegExp(`= ${sleeper.pid}\\b`).test(r.stdout ?? '')) return `gdb cannot attach here${said ? ` (${said})` : ''}`;
    if (!stillRunning) return `gdb attaches but the traced process does not survive it${said ? ` (${said})` : ''}`;
    return null;
  } finally {
    sleeper.kill('SIGKILL');
  }
}

const noGdb = whyNoGdb();
const MiB = 1024 * 1024;

const CHILD = `
import ctypes, sys, time
libc = ctypes.CDLL("libc.so.6"); libc.malloc.restype = ctypes.c_void_p
small = [libc.malloc(100) for _ in range(100_000)]   # ~10 MiB of in-use heap
big = libc.malloc(40 << 20)                          # above the mmap threshold: its own mapping
print("ready", flush=True)
time.sleep(60)
`;

describe('malloc_stats through gdb', () => {
  it('reads back the heap and mmapped bytes a process holds', async (ctx) => {
    if (noGdb) ctx.skip(noGdb);
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MALLOC_')));
    const child = spawn(requireTrainerPython(), ['-c', CHILD], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      await new Promise<void>((resolve) => child.stdout.on('data', (c: Buffer) => c.toString().includes('ready') && resolve()));
      expect(requestMallocStats(child.pid!)).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      const s = parseMallocStats(stderr);
      expect(s).not.toBeNull();
      expect(s!.arenas[0]!.inUse).toBeGreaterThanOrEqual(100_000 * 100);
      expect(s!.arenas[0]!.system).toBeGreaterThanOrEqual(s!.arenas[0]!.inUse);
      expect(s!.mmapBytes).toBeGreaterThanOrEqual(40 * MiB);
      // Totals include the mapped block; arenas alone do not.
      const arenaInUse = s!.arenas.reduce((a, x) => a + x.inUse, 0);
      expect(s!.total.inUse - arenaInUse).toBeGreaterThanOrEqual(40 * MiB);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('finds no block in text without one, and a truncated block is not read', () => {
    expect(parseMallocStats('nothing here')).toBeNull();
    expect(parseMallocStats('Arena 0:\nsystem bytes     =    100\n')).toBeNull();
  });
});
