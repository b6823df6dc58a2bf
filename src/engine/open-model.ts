/**
 * Opens one model file as a `LogprobModel` on the thread PRM_ENGINE_THREADS asks for:
 *   worker  (default) one worker thread per model (worker-model.ts): the event loop stays free
 *           during a forward pass, and a policy and a reference on a GPU run concurrently
 *   main    the calling thread (onnx-model.ts): the simplest path, kept so that both stay tested
 *           and as a fallback where worker threads are unwelcome
 * Both run the same OnnxLogprobModel code, so their results are identical.
 */
import { countPassTimes } from '../metrics.js';
import type { SessionOptions } from './execution-provider.js';
import type { ModelSpec } from './graph-interface.js';
import { OnnxLogprobModel } from './onnx-model.js';
import type { LogprobModel } from './types.js';
import { WorkerLogprobModel } from './worker-model.js';

export function openLogprobModel(modelPath: string, label: string, spec: ModelSpec, opts: SessionOptions): Promise<LogprobModel> {
  const threads = opts.engineThreads ?? 'worker';
  return threads === 'main'
    ? OnnxLogprobModel.open(modelPath, label, spec, opts, (t) => countPassTimes(label, t))
    : WorkerLogprobModel.open(modelPath, label, spec, opts);
}
