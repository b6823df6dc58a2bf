/**
 * The bench's `--allocator` settings (bench/allocator.ts) must do what the report says they do:
 * with `keep`, a large block comes from glibc's heap (and stays in the process when freed) instead
 * of a fresh mapping per allocation. Checked in a child process through glibc's own counters
 * (mallinfo2: `arena` = heap bytes, `hblkhd` = bytes in mmapped blocks), not through the bench.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ALLOCATOR_MODES, allocatorEnv } from '../../bench/allocator.js';
import { parseArgs } from '../../bench/args.js';
import { requireTrainerPython } from '../../scripts/trainer-python.js';

// malloc 40 MiB, free it, malloc again; print the heap and mmapped bytes after each step.
const PROBE = `
import ctypes, json
class MI(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL("libc.so.6"); libc.mallinfo2.restype = MI; libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def snap():
    m = libc.mallinfo2(); return {"heap": m.arena, "mmapped": m.hblkhd}
p = libc.malloc(40 << 20); a = snap(); libc.free(p); b = snap()
print(json.dumps({"allocated": a, "freed": b}))
`;

function probe(env: Record<string, string>): { allocated: { heap: number; mmapped: number }; freed: { heap: number; mmapped: number } } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MALLOC_')));
  return JSON.parse(execFileSync(requireTrainerPython(), ['-c', PROBE], { env: { ...clean, ...env }, encoding: 'utf8' })) as ReturnType<typeof probe>;
}

const MiB = 1024 * 1024;

describe('bench allocator settings', () => {
  it('keep: a 40 MiB block comes from the heap and stays there when freed', () => {
    const r = probe(allocatorEnv('keep'));
    expect(r.allocated.mmapped).toBeLessThan(40 * MiB); // the interpreter's own mapped blocks only
    expect(r.allocated.heap).toBeGreaterThanOrEqual(40 * MiB);
    expect(r.freed.heap).toBeGreaterThanOrEqual(40 * MiB); // not trimmed back to the kernel
  });

  it('default: glibc maps the same block and unmaps it on free', () => {
    expect(allocatorEnv('default')).toEqual({});
    const r = probe(allocatorEnv('default'));
    expect(r.allocated.mmapped).toBeGreaterThanOrEqual(40 * MiB);
    expect(r.allocated.mmapped - r.freed.mmapped).toBeGreaterThanOrEqual(40 * MiB); // unmapped on free
    expect(r.allocated.heap).toBeLessThan(40 * MiB);
  });

  it('is a bench option, keep by default, and rejects unknown modes', () => {
    expect(parseArgs([]).allocator).toBe('keep');
    expect(parseArgs(['--allocator', 'default']).allocator).toBe('default');
    expect(() => parseArgs(['--allocator', 'jemalloc'])).toThrow(/--allocator is one of keep, default/);
    expect(ALLOCATOR_MODES).toEqual(['keep', 'default']);
  });
});
