/**
 * glibc's own account of a running process's heap (`malloc_stats()`), for the soak's
 * `--malloc-stats`: it tells memory the program still uses from memory glibc keeps after it was
 * freed (fragmentation, per-thread arenas), which RSS alone cannot.
 *
 * How: gdb attaches for a moment and calls `malloc_stats()` inside the process, which prints per
 * arena "system bytes" (taken from the kernel) and "in use bytes" (handed out and not freed) to the
 * process's stderr; `parseMallocStats` reads that block back. Needs gdb and permission to ptrace
 * the process (a diagnostic for a development machine, not something the service does itself).
 */
import { execFileSync } from 'node:child_process';

export interface ArenaStats {
  system: number;
  inUse: number;
}

export interface MallocStats {
  /** Arena 0 is the main thread's heap; the others are per-thread arenas. */
  arenas: ArenaStats[];
  /** Totals including blocks mmapped on their own (above the mmap threshold). */
  total: ArenaStats;
  mmapRegions: number;
  mmapBytes: number;
}

/** Asks the process to print its malloc statistics to its own stderr; false when gdb could not. */
export function requestMallocStats(pid: number): boolean {
  try {
    execFileSync('gdb', ['-p', String(pid), '-batch', '-ex', 'call (void)malloc_stats()'], { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/** The last complete malloc_stats block in `text`, or null. */
export function parseMallocStats(text: string): MallocStats | null {
  const start = text.lastIndexOf('Arena 0:');
  if (start < 0) return null;
  const block = text.slice(start);
  const num = (re: RegExp): number[] => [...block.matchAll(re)].map((m) => Number(m[1]));
  const system = num(/system bytes\s*=\s*(\d+)/g);
  const inUse = num(/in use bytes\s*=\s*(\d+)/g);
  const regions = num(/max mmap regions\s*=\s*(\d+)/g);
  const mmapBytes = num(/max mmap bytes\s*=\s*(\d+)/g);
  const arenaCount = [...block.matchAll(/^Arena \d+:/gm)].length;
  // One system/in-use pair per arena, then the totals pair.
  if (arenaCount === 0 || system.length !== arenaCount + 1 || inUse.length !== arenaCount + 1 || regions.length !== 1 || mmapBytes.length !== 1) return null;
  return {
    arenas: Array.from({ length: arenaCount }, (_, i) => ({ system: system[i]!, inUse: inUse[i]! })),
    total: { system: system[arenaCount]!, inUse: inUse[arenaCount]! },
    mmapRegions: regions[0]!,
    mmapBytes: mmapBytes[0]!,
  };
}
