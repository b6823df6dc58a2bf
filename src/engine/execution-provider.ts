/**
 * Chooses where a model runs (PRM_DEVICE) and creates its onnxruntime session.
 *
 *   auto  the CUDA execution provider when the probe (cuda-probe.ts) finds its libraries and a
 *         driver, and the session can be created with it; otherwise the CPU, with the reason logged
 *   cuda  CUDA or fail: a GPU deployment that silently ran on the CPU would be a latent outage
 *   cpu   the CPU
 *
 * The CUDA path needs onnxruntime-node installed with its CUDA binaries (ONNXRUNTIME_NODE_INSTALL=
 * cuda12) and a GPU; it is real code but cannot run on a CPU-only machine, where `auto` exercises
 * the fallback branch instead.
 */
import { availableParallelism } from 'node:os';
import { InferenceSession } from 'onnxruntime-node';
import { probeCuda, type CudaProbe } from './cuda-probe.js';
import type { Logger } from '../logger.js';

import type { Device, EngineThreads } from './devices.js';

export type { Device, EngineThreads };

export interface SessionOptions {
  device: Device;
  /**
   * Threads inside one operator of this session (onnxruntime default: one per physical core).
   * loadBundle reads it as a whole pass's threads and gives each model its share (threadsPerModel).
   */
  intraOpThreads?: number;
  /** Threads across independent operators (only used by the parallel executor). */
  interOpThreads?: number;
  /**
   * Whether intra-op threads spin between operators instead of sleeping (onnxruntime's
   * `session.intra_op.allow_spinning`). Default off: on a CPU the cores are shared by both models'
   * pools, the engine workers' packing and the HTTP thread, and a spinning pool takes them from
   * that work (bench/NOTES.md #19: tree pass −9% wall time with spinning off).
   */
  intraOpSpinning?: boolean;
  /**
   * Scheduling niceness of a worker that runs a session, and so of the onnxruntime threads it
   * starts (0–19, 0: unchanged; Linux only). Not applied with `engineThreads: 'main'`, where the
   * session runs on the HTTP thread (engine/worker/thread-niceness.ts).
   */
  engineNiceness?: number;
  /** CUDA device ordinal (default 0). */
  cudaDeviceId?: number;
  /** Default `worker`. */
  engineThreads?: EngineThreads;
  logger: Logger;
}

export interface CreatedSession {
  session: InferenceSession;
  executionProvider: 'cuda' | 'cpu';
}

/**
 * Intra-op threads of each of a pass's `models` sessions (a bundle's policy and reference run at
 * once): the pass's `total` (default: this machine's cores) split evenly, at least one each.
 */
export function threadsPerModel(total: number | undefined, models: number): number {
  return Math.max(1, Math.floor((total ?? availableParallelism()) / Math.max(1, models)));
}

/** onnxruntime's options for every device (exported for its test). */
export function baseOptions(opts: SessionOptions): InferenceSession.SessionOptions {
  const o: InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: opts.intraOpSpinning === true ? '1' : '0' } } },
  };
  if (opts.intraOpThreads !== undefined) o.intraOpNumThreads = opts.intraOpThreads;
  if (opts.interOpThreads !== undefined) o.interOpNumThreads = opts.interOpThreads;
  return o;
}

async function createCpu(modelPath: string, opts: SessionOptions): Promise<InferenceSession> {
  return InferenceSession.create(modelPath, { ...baseOptions(opts), executionProviders: ['cpu'] });
}

async function createCuda(modelPath: string, opts: SessionOptions): Promise<InferenceSession> {
  return InferenceSession.create(modelPath, {
    ...baseOptions(opts),
    // onnxruntime places nodes the CUDA EP lacks kernels for on the CPU by itself.
    executionProviders: [{ name: 'cuda', deviceId: opts.cudaDeviceId ?? 0 }],
  });
}

/** First line of an onnxruntime error: its full text is a multi-line native log. */
function shortReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '').split('\n')[0].slice(0, 400);
}

/** The probe, once per thread: its answer does not change while the process runs. */
let cudaProbe: CudaProbe | undefined;
function cachedProbe(): CudaProbe {
  cudaProbe ??= probeCuda();
  return cudaProbe;
}

async function cpuSession(modelPath: string, label: string, opts: SessionOptions, reason: string): Promise<CreatedSession> {
  const session = await createCpu(modelPath, opts);
  opts.logger.info(
    { model: label, executionProvider: 'cpu', device: opts.device, intraOpThreads: opts.intraOpThreads ?? 'default', reason },
    `${label} runs on the CPU execution provider (${reason})`,
  );
  return { session, executionProvider: 'cpu' };
}

/** Creates the session for one model file on the requested device; logs which EP runs it and why. */
export async function createSession(modelPath: string, label: string, opts: SessionOptions): Promise<CreatedSession> {
  if (opts.device === 'cpu') return cpuSession(modelPath, label, opts, 'PRM_DEVICE=cpu');
  const probe = cachedProbe();
  if (!probe.candidate) {
    if (opts.device === 'cuda') throw new Error(`PRM_DEVICE=cuda but the CUDA execution provider cannot run for ${label}: ${probe.reason}`);
    return cpuSession(modelPath, label, opts, `PRM_DEVICE=auto: ${probe.reason}`);
  }
  try {
    const session = await createCuda(modelPath, opts);
    opts.logger.info({ model: label, executionProvider: 'cuda', device: opts.device, reason: probe.reason }, `${label} runs on the CUDA execution provider`);
    return { session, executionProvider: 'cuda' };
  } catch (err) {
    const reason = shortReason(err);
    if (opts.device === 'cuda') {
      throw new Error(`PRM_DEVICE=cuda but the CUDA execution provider failed for ${label}: ${reason}`, { cause: err });
    }
    opts.logger.warn({ model: label, device: opts.device, reason }, `${label}: the CUDA execution provider failed to start (${reason})`);
    return cpuSession(modelPath, label, opts, 'PRM_DEVICE=auto: the CUDA execution provider failed to start');
  }
}
