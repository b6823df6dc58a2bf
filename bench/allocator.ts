/**
 * The C allocator settings both sides of the bench run under (`--allocator`, recorded in the
 * report's `machine.allocator`).
 *
 * Why this exists: PyTorch allocates every intermediate tensor afresh. With glibc's defaults a
 * large block is mmapped and returned to the kernel when freed, so the next pass touches fresh
 * pages again; on a virtual machine where a page fault is slow this dominated the PyTorch
 * scorer (one 8 × 450-token forward of the 30M model: 6.5 s by default, 2.3–2.7 s with the
 * settings below; its [B, H, T, T] scale, bias-add and softmax ran at page-fault speed). The
 * service is hardly affected (onnxruntime keeps its own arena). A comparison against a scorer
 * slowed by its allocator would flatter the service, so by default both sides get `keep`:
 * freed memory stays in the process for reuse. `default` leaves glibc as it is, to show the
 * difference.
 */

export const ALLOCATOR_MODES = ['keep', 'default'] as const;
export type AllocatorMode = (typeof ALLOCATOR_MODES)[number];

/** glibc tunables read at process start, so they must be in a child's environment when it is spawned. */
const KEEP: Record<string, string> = {
  // Blocks up to 4 GiB come from the heap, not from a fresh mapping per allocation...
  MALLOC_MMAP_THRESHOLD_: String(4 * 1024 ** 3),
  // ...and freed memory at the top of the heap is not handed back to the kernel.
  MALLOC_TRIM_THRESHOLD_: String(16 * 1024 ** 3),
};

/** The variables `mode` sets (and a setting for the report). */
export function allocatorEnv(mode: AllocatorMode): Record<string, string> {
  return mode === 'keep' ? { ...KEEP } : {};
}

/**
 * Puts `mode`'s variables into this process's environment, which every child of the bench
 * inherits (servers, the PyTorch scorer, the matmul peak). Returns the MALLOC_* variables the
 * children will see, including any the caller had set already.
 */
export function applyAllocator(mode: AllocatorMode): Record<string, string> {
  Object.assign(process.env, allocatorEnv(mode));
  return Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('MALLOC_') && v !== undefined)) as Record<string, string>;
}
