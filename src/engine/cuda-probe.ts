/**
 * Whether asking onnxruntime for its CUDA execution provider can work here, decided from files
 * before onnxruntime is asked: onnxruntime-node prints its own error lines to stderr for every
 * session whose provider library fails to load, which on a CPU-only machine would be noise at
 * every start. The probe looks for the two things the provider needs:
 *
 *   - the provider libraries next to onnxruntime-node's binding (installed only with
 *     ONNXRUNTIME_NODE_INSTALL=cuda12; the npm package itself ships the CPU provider alone), and
 *   - an NVIDIA kernel driver (its /proc entry or control device).
 *
 * A positive probe is not a promise (the CUDA user-space libraries may still be missing): the
 * session is then created with the CUDA provider and a failure falls back as before.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface CudaProbe {
  /** True when both the provider libraries and a driver were found. */
  candidate: boolean;
  /** Why the CUDA provider will not be tried, or what was found. */
  reason: string;
}

/** File names of the CUDA provider libraries onnxruntime-node loads, by platform. */
const PROVIDER_LIBRARIES: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  win32: ['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll'],
};

const DRIVER_PATHS = ['/proc/driver/nvidia/version', '/dev/nvidiactl'];

/** onnxruntime-node's folder of native files for this platform (where its binding loads from). */
export function onnxruntimeBindingDir(): string {
  const pkg = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  return join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

export function probeCuda(
  bindingDir: string = onnxruntimeBindingDir(),
  driverPaths: readonly string[] = DRIVER_PATHS,
  platform: NodeJS.Platform = process.platform,
): CudaProbe {
  const libraries = PROVIDER_LIBRARIES[platform];
  if (!libraries) return { candidate: false, reason: `onnxruntime-node has no CUDA provider on ${platform}` };
  const missing = libraries.filter((f) => !existsSync(join(bindingDir, f)));
  if (missing.length > 0) {
    return { candidate: false, reason: `onnxruntime-node is installed without its CUDA provider (${missing.join(', ')} not in ${bindingDir}; install with ONNXRUNTIME_NODE_INSTALL=cuda12)` };
  }
  const driver = driverPaths.find((p) => existsSync(p));
  if (!driver) return { candidate: false, reason: `no NVIDIA driver (none of ${driverPaths.join(', ')} exists)` };
  return { candidate: true, reason: `CUDA provider libraries in ${bindingDir}, NVIDIA driver at ${driver}` };
}
