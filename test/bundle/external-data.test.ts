/**
 * Bundles whose weights live in ONNX external data files (what `import` writes for large models):
 * the fingerprint covers those files, computed the same by the trainer and the service, so a
 * changed weight gives a new fingerprint — and the shared Redis cache, keyed by it, serves no
 * reward of the old weights to a server started on the new ones.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeFingerprint } from '../../src/bundle/fingerprint.js';
import { parseManifest } from '../../src/bundle/manifest.js';
import { RedisProcess } from '../helpers/redis-server.js';
import { ServerProcess } from '../harness/server-process.js';
import { runPythonScript } from '../helpers/python-script.js';

const ROOT = new URL('../../', import.meta.url).pathname;

/** Copies a test bundle, moves both graphs' weights into data files, writes the trainer's fingerprint. */
const EXTERNALIZE = `
import json, os, shutil, sys
import onnx
sys.path.insert(0, "trainer")
from implicit_prm.bundle import fingerprint
src, dst = sys.argv[1], sys.argv[2]
shutil.copytree(src, dst)
man = json.load(open(os.path.join(dst, "prm.json")))
for role in ("policy", "reference"):
    path = os.path.join(dst, man[role]["onnx"])
    onnx.save(onnx.load(path), path, save_as_external_data=True, all_tensors_to_one_file=True,
              location=man[role]["onnx"] + "_data", size_threshold=0)
    man[role]["external_data"] = [man[role]["onnx"] + "_data"]
man["fingerprint"] = fingerprint(dst, man)
json.dump(man, open(os.path.join(dst, "prm.json"), "w"), indent=2)
`;

/** Scales the largest weight tensor of the policy's data file by 1.5, in place; drops the stored fingerprint. */
const CHANGE_WEIGHTS = `
import json, os, sys
import numpy as np, onnx
from onnx import numpy_helper
dst = sys.argv[1]
man = json.load(open(os.path.join(dst, "prm.json")))
path = os.path.join(dst, man["policy"]["onnx"])
m = onnx.load(path)
big = max(m.graph.initializer, key=lambda t: numpy_helper.to_array(t).size)
big.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(big) * 1.5, big.name))
onnx.save(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location=man["policy"]["onnx"] + "_data", size_threshold=0)
del man["fingerprint"]
json.dump(man, open(os.path.join(dst, "prm.json"), "w"), indent=2)
`;


const readManifest = (dir: string) => parseManifest(JSON.parse(readFileSync(join(dir, 'prm.json'), 'utf8')));

let work = '';
let bundle = '';
let redis: RedisProcess;
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'prm-external-'));
  bundle = join(work, 'models', 'ext');
  await runPythonScript(EXTERNALIZE, [join(ROOT, 'test/fixtures/bundles/tiny-logprobs'), bundle]);
  redis = await RedisProcess.start();
}, 120_000);
afterAll(async () => {
  await redis?.kill();
  if (work) rmSync(work, { recursive: true, force: true });
});

const ITEM = { prompt: '48+27-19', steps: ['48+27=75', '75-19=56', 'Answer: 56'] };

async function scoreOnce(): Promise<{ fingerprint: string; reward: number; cached: number }> {
  // A server process of its own each time (the production wiring), sharing only Redis.
  const server = await ServerProcess.start({ MODELS_DIR: join(work, 'models'), DEFAULT_MODEL: 'ext', REDIS_URL: redis.url, KV_CACHE_MAX_BYTES: '0' });
  try {
    const res = await fetch(`${server.url}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items: [ITEM] }) });
    const body = (await res.json()) as { model: { fingerprint: string }; results: { score: number; cached_tokens: number }[] };
    return { fingerprint: body.model.fingerprint, reward: body.results[0]!.score, cached: body.results[0]!.cached_tokens };
  } finally {
    await server.stop();
  }
}

describe('external data', () => {
  it('is hashed into the fingerprint the same way by the trainer and the service', async () => {
    const m = readManifest(bundle);
    expect(m.policy.external_data).toEqual(['policy.onnx_data']);
    expect(await computeFingerprint(bundle, m)).toBe(m.fingerprint);
    // Without the data files the recipe would give another value.
    expect(await computeFingerprint(bundle, { ...m, policy: { ...m.policy, external_data: [] } })).not.toBe(m.fingerprint);
  });

  it('a changed weight in the data file: a new fingerprint, and no reward of the old weights from Redis', async () => {
    const before = await scoreOnce();
    expect((await scoreOnce()).cached).toBeGreaterThan(0); // the shared cache does serve a restarted server
    await runPythonScript(CHANGE_WEIGHTS, [bundle]);
    const after = await scoreOnce();
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(after.cached).toBe(0);
    expect(Math.abs(after.reward - before.reward)).toBeGreaterThan(1e-6);
  });
});
