/**
 * The Python client as users get it: an sdist of clients/python built with setuptools, a wheel
 * built from that sdist (`pip wheel --no-deps --no-build-isolation --no-index`), the wheel
 * installed with `pip install --no-index` into a fresh virtual environment, imported from outside
 * the checkout and calling a live service. A proxy that drops every connection stands in for the
 * network, so a download attempt fails the test. The builds run in the trainer environment's
 * Python, which has setuptools; the fresh environment has nothing but pip.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTrainerPython } from '../../scripts/trainer-python.js';
import { PrmClient } from '../../src/client/index.js';
import { startLiveServer, type TestApp as LiveServer } from '../harness/app.js';
import { runCommand, startTrapProxy, type TrapProxy } from './offline-install.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const PROMPT = '48+27-39*2';
const STEPS = ['48+27=75', '75-39=36', '36*2=72', 'Answer: 72'];

const BUILD_SDIST = 'import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))';
const LIST_ARCHIVE = `
import sys, tarfile, zipfile
path = sys.argv[1]
names = zipfile.ZipFile(path).namelist() if path.endswith('.whl') else tarfile.open(path).getnames()
print('\\n'.join(sorted(names)))`;

const READ_METADATA = `
import sys, zipfile
print(zipfile.ZipFile(sys.argv[1]).read('implicit_prm_client-0.1.0.dist-info/METADATA').decode())`;

const CONSUMER = `
import json, sys
import implicit_prm_client
from implicit_prm_client import PrmClient, PrmError
from implicit_prm_client.verl_reward import compute_score_batch
from implicit_prm_client.verl_manager import ImplicitPrmRewardManager
url, prompt, steps = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
scored = PrmClient(url, max_retries=0).score_steps(prompt, steps)
try:
    PrmClient(url).score_steps("1+1", ["1+1=2", ""])
    refused = None
except PrmError as err:
    refused = [err.status, err.code]
rewards = compute_score_batch(["arith"] * 2, ["\\n".join(steps), ""], [None] * 2, [{"question": prompt}] * 2, prm_url=url)
ImplicitPrmRewardManager(tokenizer=None, num_examine=0, prm_url=url)  # constructs without torch
print(json.dumps({"file": implicit_prm_client.__file__, "score": scored["score"], "refused": refused, "rewards": rewards,
                  "torch": "torch" in sys.modules}))
`;

let server: LiveServer;
let proxy: TrapProxy;
let dir = '';
const python = () => requireTrainerPython();

beforeAll(async () => {
  server = await startLiveServer();
  proxy = await startTrapProxy();
  dir = mkdtempSync(join(tmpdir(), 'prm-py-client-'));
});

afterAll(async () => {
  await server?.close();
  await proxy?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A command in `cwd` that must succeed; returns its stdout. */
async function ok(cmd: string, args: string[], cwd = dir): Promise<string> {
  const ran = await runCommand(cmd, args, { cwd, env: proxy.env({ PYTHONDONTWRITEBYTECODE: '1', PIP_NO_INPUT: '1' }) });
  expect(ran.code, ran.output).toBe(0);
  return ran.stdout;
}

const archive = async (path: string) => (await ok(python(), ['-c', LIST_ARCHIVE, path])).trim().split('\n');

describe('Python client package (clients/python)', () => {
  let wheel = '';

  it('builds an sdist, and from it a wheel, offline', async () => {
    const source = join(dir, 'source');
    cpSync(join(ROOT, 'clients/python'), source, { recursive: true, filter: (p) => !/(__pycache__|\.egg-info|\/build)$/.test(p) });
    const sdist = join(dir, 'sdist');
    mkdirSync(sdist);
    const name = (await ok(python(), ['-c', BUILD_SDIST, sdist], source)).trim().split('\n').pop()!;
    const sdistFiles = await archive(join(sdist, name));
    const top = name.replace(/\.tar\.gz$/, '');
    for (const f of ['pyproject.toml', 'README.md', 'implicit_prm_client/verl_manager.py', 'implicit_prm_client/verl_reward.py']) {
      expect(sdistFiles).toContain(`${top}/${f}`);
    }
    await ok('tar', ['-xzf', join(sdist, name), '-C', dir]);
    const wheels = join(dir, 'wheels');
    await ok(python(), ['-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '-q', '-w', wheels, join(dir, top)]);
    [wheel] = readdirSync(wheels).map((f) => join(wheels, f));
    expect(wheel).toMatch(/implicit_prm_client-0\.1\.0-py3-none-any\.whl$/);
    const wheelFiles = await archive(wheel!);
    expect(wheelFiles.filter((f) => f.startsWith('implicit_prm_client/')).sort()).toEqual(
      ['__init__', 'client', 'rl', 'sample_scoring', 'settings', 'verl_manager', 'verl_reward'].map((m) => `implicit_prm_client/${m}.py`),
    );
    const metadata = await ok(python(), ['-c', READ_METADATA, wheel!]);
    expect(metadata).not.toMatch(/^Requires-Dist:/m);
  });

  it('installs into a fresh virtual environment with --no-index and calls the live service', async () => {
    const venv = join(dir, 'venv');
    await ok(python(), ['-m', 'venv', venv]);
    await ok(join(venv, 'bin/python'), ['-m', 'pip', 'install', '--no-index', '-q', wheel]);
    writeFileSync(join(dir, 'consumer.py'), CONSUMER);
    // -I: no PYTHONPATH, no user site, no script directory games; the package comes from the venv.
    const out = JSON.parse(await ok(join(venv, 'bin/python'), ['-I', join(dir, 'consumer.py'), server.url, PROMPT, JSON.stringify(STEPS)]));
    const want = await new PrmClient({ baseUrl: server.url }).scoreSteps(PROMPT, STEPS);
    expect(out.file).toContain(join(venv, 'lib'));
    expect(out.score).toBe(want.score);
    expect(out.refused).toEqual([400, 'EMPTY_STEP']);
    expect(out.rewards).toEqual([
      { score: want.score, outcome_reward: want.outcome_reward, num_steps: 4, prm_error: '' },
      { score: 0, outcome_reward: 0, num_steps: 0, prm_error: 'EMPTY_RESPONSE' },
    ]);
    expect(out.torch).toBe(false);
    expect(proxy.attempts()).toBe(0);
  });
});
