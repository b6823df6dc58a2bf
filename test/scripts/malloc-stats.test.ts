/**
 * scripts/malloc-stats.ts against a real process: a Python child allocates known amounts through
 * glibc (many small blocks in the main heap, one 40 MiB block mapped on its own), and gdb's call to
 * malloc_stats() must report at least those. Skipped where gdb is missing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseMallocStats, requestMallocStats } from '../../scripts/malloc-stats.js';

const hasGdb = spawnSync('gdb', ['--version'], { stdio: 'ignore' }).status === 0;
const MiB = 1024 * 1024;

const CHILD = `
import ctypes, sys, time
libc = ctypes.CDLL("libc.so.6"); libc.malloc.restype = ctypes.c_void_p
small = [libc.malloc(100) for _ in range(100_000)]   # ~10 MiB of in-use heap
big = libc.malloc(40 << 20)                          # above the mmap threshold: its own mapping
print("ready", flush=True)
time.sleep(60)
`;

describe.skipIf(!hasGdb)('malloc_stats through gdb', () => {
  it('reads back the heap and mmapped bytes a process holds', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MALLOC_')));
    const child = spawn('/usr/bin/python3', ['-c', CHILD], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
