/**
 * A graph that runs with a past only at batch 1 (here: its first layer reshapes the past to batch
 * 1, the way some exports fix that dimension) passes every file check; the warm-up's batch of two
 * rows with pasts of different lengths refuses it at load, with a message saying why.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBundle } from '../../src/bundle/load-bundle.js';
import { warmUp } from '../../src/core/warm-up.js';
import { requireTrainerPython } from '../../scripts/trainer-python.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'prm-batch1-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const BATCH_ONE = `
import json, os, shutil, sys
import numpy as np, onnx
from onnx import helper, numpy_helper
src, dst = sys.argv[1], sys.argv[2]
shutil.copytree(src, dst)
man = json.load(open(os.path.join(dst, "prm.json")))
for role in ("policy", "reference"):
    path = os.path.join(dst, man[role]["onnx"])
    m = onnx.load(path)
    for kind in ("key", "value"):
        name = f"past_key_values.0.{kind}"
        for n in m.graph.node:
            n.input[:] = [name + "_batch1" if x == name else x for x in n.input]
        shape = [1, man[role]["num_heads"], -1, man[role]["head_dim"]]
        m.graph.initializer.append(numpy_helper.from_array(np.array(shape, np.int64), name + "_shape"))
        m.graph.node.insert(0, helper.make_node("Reshape", [name, name + "_shape"], [name + "_batch1"]))
    onnx.save(m, path)
man.pop("fingerprint", None)
json.dump(man, open(os.path.join(dst, "prm.json"), "w"), indent=2)
`;

const quiet = { info: () => {}, warn: () => {}, error: () => {} };

describe('warm-up', () => {
  it('refuses a graph that runs only batch 1 when given a past', async () => {
    const dir = join(work, 'batch-one');
    const r = spawnSync(requireTrainerPython(), ['-c', BATCH_ONE, join(ROOT, 'test/fixtures/bundles/tiny-logprobs'), dir], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const bundle = await loadBundle(dir, { device: 'cpu', engineThreads: 'main', intraOpThreads: 1, logger: quiet });
    try {
      // One row with a past still works: only the batch shows the fault.
      const [first] = await bundle.policy.forward([{ tokens: [3, 4, 5], targets: [4, 5, -1], keepKv: true }]);
      await bundle.policy.forward([{ tokens: [6], targets: [-1], past: first.kv }]);
      await expect(warmUp(bundle)).rejects.toThrow(
        /batch-one\/policy\.onnx: a batch of two rows with past key\/values fails \(.+\); this service batches rows, so the graph must take a batch dimension above 1 with a past/,
      );
    } finally {
      await bundle.policy.dispose();
      await bundle.reference?.dispose();
    }
  });
});
