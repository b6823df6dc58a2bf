/**
 * prm_engine_seconds_total{model, stage}: each forward pass adds its pack, run and unpack time under
 * the model's label, measured where the pass runs (a worker thread sends its times with the result),
 * and together they never exceed the wall time of the calls that produced them.
 */
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { openLogprobModel } from '../../src/engine/open-model.js';
import { metrics } from '../../src/metrics.js';

const POLICY = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bundles'), 'tiny-logprobs', 'policy.onnx');
const SPEC = { flavour: 'logprobs' as const, numLayers: 2, numHeads: 2, headDim: 16, vocabSize: 99 };

async function stages(model: string): Promise<Record<string, number>> {
  const out: Record<string, number> = { pack: 0, run: 0, unpack: 0 };
  for (const v of (await metrics.engineSeconds.get()).values) if (v.labels.model === model) out[v.labels.stage as string] = v.value;
  return out;
}

describe.each(['worker', 'main'] as const)('engine stage times (engine threads: %s)', (engineThreads) => {
  it('counts every pass under its model, within the wall time of the passes', async () => {
    const label = `times-${engineThreads}/policy.onnx`;
    const model = await openLogprobModel(POLICY, label, SPEC, { device: 'cpu', intraOpThreads: 1, logger: silentLogger, engineThreads });
    try {
      expect(await stages(label)).toEqual({ pack: 0, run: 0, unpack: 0 });
      const seq = Array.from({ length: 40 }, (_, i) => 3 + ((i * 7) % 90));
      const t0 = performance.now();
      const [first] = await model.forward([{ tokens: seq.slice(0, 30), targets: seq.slice(1, 31), keepKv: true }]);
      await model.forward([{ tokens: seq.slice(30, 39), targets: seq.slice(31, 40), past: first.kv, keepKv: true }]);
      const wall = (performance.now() - t0) / 1000;
      const s = await stages(label);
      expect(s.run).toBeGreaterThan(0);
      expect(s.pack).toBeGreaterThan(0);
      expect(s.unpack).toBeGreaterThan(0);
      expect(s.pack + s.run + s.unpack).toBeLessThanOrEqual(wall);
      // A call with nothing to compute is no pass.
      await model.forward([{ tokens: [], targets: [] }]);
      expect(await stages(label)).toEqual(s);
    } finally {
      await model.dispose();
    }
  });
});
