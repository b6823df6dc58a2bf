/**
 * Where a model may run (PRM_DEVICE) and which thread runs onnxruntime (PRM_ENGINE_THREADS). The
 * settings table (config.ts) and the engine read these same lists, so a value cannot be valid in
 * one and unknown to the other. No onnxruntime import here: the settings load without it.
 */

/** `auto`: CUDA when available, else the CPU; `cuda`: CUDA or fail; `cpu`: the CPU. */
export const DEVICES = ['auto', 'cuda', 'cpu'] as const;
export type Device = (typeof DEVICES)[number];

/**
 * `worker`: one worker thread per model, so a forward pass never blocks the event loop; `main`:
 * the calling thread (see open-model.ts).
 */
export const ENGINE_THREADS = ['worker', 'main'] as const;
export type EngineThreads = (typeof ENGINE_THREADS)[number];
