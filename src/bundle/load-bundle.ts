/**
 * Loads one bundle folder (ARCHITECTURE.md §2) and validates everything that can be checked before
 * the first request: the manifest, that every file exists, the fingerprint, the tokenizer against
 * the layout and vocabulary, and each ONNX graph against its declared flavour and shape.
 * Any failure is a BundleError whose message names the bundle and what is wrong.
 */
import { access, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { threadsPerModel, type SessionOptions } from '../engine/execution-provider.js';
import { ModelPair } from '../engine/model-pair.js';
import { openLogprobModel } from '../engine/open-model.js';
import type { LogprobModel } from '../engine/types.js';
import { computeFingerprint, fingerprintFiles } from './fingerprint.js';
import { parseManifest, type Manifest, type ModelEntry } from './manifest.js';
import { Segmenter } from './segmenter.js';
import { loadTokenizer } from './tokenizer-files.js';

export const MANIFEST_FILE = 'prm.json';

export class BundleError extends Error {
  readonly bundle: string;
  /** The reason without the bundle prefix (for readiness reports keyed by bundle). */
  readonly reason: string;

  constructor(bundle: string, dir: string, reason: string, opts: { cause?: unknown } = {}) {
    super(`bundle "${bundle}" (${dir}): ${reason}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BundleError';
    this.bundle = bundle;
    this.reason = reason;
  }
}

export interface LoadedBundle {
  /** The model name clients use: the bundle folder's name. */
  name: string;
  dir: string;
  manifest: Manifest;
  /** Computed from the files (equal to manifest.fingerprint when that is given). */
  fingerprint: string;
  segmenter: Segmenter;
  policy: LogprobModel;
  reference: LogprobModel | null;
  /** The policy and reference as one engine (what scoring runs). */
  models: ModelPair;
  dispose(): Promise<void>;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function openModel(dir: string, name: string, entry: ModelEntry, opts: SessionOptions): Promise<LogprobModel> {
  return openLogprobModel(
    join(dir, entry.onnx),
    `${name}/${entry.onnx}`,
    {
      flavour: entry.graph,
      numLayers: entry.num_layers,
      numHeads: entry.num_heads,
      headDim: entry.head_dim,
      vocabSize: entry.vocab_size,
      kvDtype: entry.dtype,
    },
    opts,
  );
}

/**
 * Loads and validates `dir`; the model name is the folder name. Does not warm the models up.
 * `opts.intraOpThreads` is the threads of one forward pass (default: the machine's cores), split
 * between the policy and the reference, which run at once in their worker threads
 * (engine/cpu-lane.ts). With `engineThreads: 'main'` they run one after the other on the main
 * thread (onnxruntime-node runs a session synchronously there), so each gets all of them.
 */
/**
 * `trustFingerprint` (TRUST_BUNDLE_FINGERPRINT): take prm.json's fingerprint as it is instead of
 * hashing every graph and weight file (seconds per 10 GB). It skips the one check that catches
 * files changed after export, and caches keyed by the fingerprint would then serve the old files'
 * rewards; a bundle without a fingerprint is still hashed.
 * `requireFingerprint` (REQUIRE_FINGERPRINT): refuse a bundle whose prm.json has no fingerprint.
 * Without one, nothing tells weights changed or corrupted after export from the exported ones
 * (a damaged graph that still runs gives finite, wrong log-probs), so production requires it.
 */
export interface LoadOptions extends SessionOptions {
  trustFingerprint?: boolean;
  requireFingerprint?: boolean;
}

/** Throws the BundleError of one bundle: its message names the bundle, the folder and the reason. */
type Fail = (reason: string, cause?: unknown) => never;

export async function loadBundle(dirIn: string, opts: LoadOptions): Promise<LoadedBundle> {
  const dir = resolve(dirIn);
  const name = basename(dir);
  const fail: Fail = (reason, cause) => {
    throw new BundleError(name, dir, reason, { cause });
  };
  const manifest = await readManifest(dir, fail);
  if (manifest.name !== name) {
    opts.logger.warn({ bundle: name, manifestName: manifest.name }, `bundle folder "${name}" declares name "${manifest.name}"; serving it as "${name}"`);
  }
  const missing: string[] = [];
  for (const f of fingerprintFiles(manifest)) if (!(await exists(join(dir, f)))) missing.push(f);
  if (missing.length > 0) fail(`missing file${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
  const fingerprint = await fingerprintOf(dir, manifest, opts, fail);
  const segmenter = await segmenterOf(dir, manifest, fail);
  const models = await openModels(dir, name, manifest, opts, fail);
  return {
    name,
    dir,
    manifest,
    fingerprint,
    segmenter,
    policy: models.policy,
    reference: models.reference,
    models,
    dispose: () => models.dispose(),
  };
}

async function readManifest(dir: string, fail: Fail): Promise<Manifest> {
  let text = '';
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch (err) {
    fail(`cannot read ${MANIFEST_FILE}: ${message(err)}`, err);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    fail(`${MANIFEST_FILE} is not valid JSON: ${message(err)}`, err);
  }
  try {
    return parseManifest(raw);
  } catch (err) {
    return fail(message(err), err);
  }
}

async function fingerprintOf(dir: string, manifest: Manifest, opts: LoadOptions, fail: Fail): Promise<string> {
  if (manifest.fingerprint === undefined && opts.requireFingerprint === true) {
    fail('prm.json has no fingerprint, and REQUIRE_FINGERPRINT is set: changed or damaged weights could not be told from the exported ones (the trainer\'s export and import write one)');
  }
  const trusted = opts.trustFingerprint === true ? manifest.fingerprint : undefined;
  const fingerprint = trusted ?? (await computeFingerprint(dir, manifest));
  if (manifest.fingerprint !== undefined && manifest.fingerprint !== fingerprint) {
    fail(`fingerprint mismatch: prm.json says ${manifest.fingerprint} but the files hash to ${fingerprint} (files changed after export?)`);
  }
  return fingerprint;
}

async function segmenterOf(dir: string, manifest: Manifest, fail: Fail): Promise<Segmenter> {
  let segmenter: Segmenter;
  try {
    const tok = await loadTokenizer(join(dir, manifest.tokenizer.tokenizer_json), join(dir, manifest.tokenizer.tokenizer_config));
    segmenter = new Segmenter(tok, manifest);
  } catch (err) {
    return fail(message(err), err);
  }
  if (segmenter.vocabSize > manifest.policy.vocab_size) {
    fail(`the tokenizer has ${segmenter.vocabSize} ids but policy.vocab_size is ${manifest.policy.vocab_size}`);
  }
  return segmenter;
}

/**
 * Both models open at once (each in its own worker thread by default); a failure of the policy
 * is reported before one of the reference, and whatever did open is released.
 */
async function openModels(dir: string, name: string, manifest: Manifest, opts: LoadOptions, fail: Fail): Promise<ModelPair> {
  const sideBySide = manifest.reference !== null && (opts.engineThreads ?? 'worker') === 'worker';
  const session = { ...opts, intraOpThreads: threadsPerModel(opts.intraOpThreads, sideBySide ? 2 : 1) };
  const [policy, reference] = await Promise.allSettled([
    openModel(dir, name, manifest.policy, session),
    manifest.reference === null ? Promise.resolve(null) : openModel(dir, name, manifest.reference, session),
  ]);
  if (policy.status === 'rejected' || reference.status === 'rejected') {
    if (policy.status === 'fulfilled') await policy.value.dispose();
    if (reference.status === 'fulfilled') await reference.value?.dispose();
    const reason: unknown = policy.status === 'rejected' ? policy.reason : (reference as PromiseRejectedResult).reason;
    return fail(message(reason), reason);
  }
  return new ModelPair(policy.value, reference.value);
}
