/**
 * prm.json, format version 1 (ARCHITECTURE.md §2): the types and a validator whose messages name
 * the offending field, so an operator can fix a bundle from the log line alone.
 */

import { GRAPH_FLAVOURS, KV_DTYPES, type GraphFlavour, type KvDtype } from '../engine/types.js';

export type StepBoundaries = 'prefix' | 'eos-separator';

export interface ModelEntry {
  onnx: string;
  graph: GraphFlavour;
  num_layers: number;
  /** Key/value heads of the KV cache (prm.json `num_key_value_heads`, or `num_heads`). */
  num_heads: number;
  head_dim: number;
  vocab_size: number;
  /** Files holding the graph's weights outside the graph file (ONNX external data), hashed with it. */
  external_data: string[];
  /** Element type of the KV cache inputs and outputs (default float32); the graph must agree. */
  dtype: KvDtype;
}

export interface Manifest {
  format: 'implicit-prm-bundle';
  format_version: 1;
  name: string;
  beta: number;
  policy: ModelEntry;
  reference: ModelEntry | null;
  tokenizer: { tokenizer_json: string; tokenizer_config: string };
  step_separator: string;
  prompt_template: string;
  use_chat_template: boolean;
  append_eos: boolean;
  /**
   * Where steps end. "prefix" (default): after the whole-text tokens that the text through the step
   * reproduces alone (segmenter.ts). "eos-separator": after as many tokens as the text through the
   * step followed by the EOS token and the separator has — the EurusPRM model cards' scoring code
   * (docs/models.md), for bundles that must reproduce it.
   */
  step_boundaries: StepBoundaries;
  max_sequence_length: number;
  provenance?: Record<string, unknown>;
  fingerprint?: string;
}

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function fail(field: string, want: string, got: unknown): never {
  const shown = got === undefined ? 'missing' : `got ${JSON.stringify(got)}`;
  throw new ManifestError(`prm.json: "${field}" must be ${want} (${shown})`);
}

function str(o: Obj, key: string, path: string, opts: { nonEmpty?: boolean } = {}): string {
  const v = o[key];
  if (typeof v !== 'string' || (opts.nonEmpty && v.length === 0)) {
    fail(path + key, opts.nonEmpty ? 'a non-empty string' : 'a string', v);
  }
  return v;
}

function posInt(o: Obj, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(path + key, 'a positive integer', v);
  return v;
}

function bool(o: Obj, key: string, path: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') fail(path + key, 'true or false', v);
  return v;
}

/** A file name inside the bundle folder: relative, no "..", so a manifest cannot point outside it. */
function bundleFile(o: Obj, key: string, path: string): string {
  const v = str(o, key, path, { nonEmpty: true });
  if (v.startsWith('/') || v.includes('\\') || v.split('/').includes('..')) {
    fail(path + key, 'a relative path inside the bundle folder', v);
  }
  return v;
}

function modelEntry(v: unknown, path: string): ModelEntry {
  if (!isObj(v)) fail(path.slice(0, -1), 'an object', v);
  const graph = v.graph;
  if (!GRAPH_FLAVOURS.includes(graph as GraphFlavour)) fail(path + 'graph', '"logits" or "logprobs"', graph);
  return {
    onnx: bundleFile(v, 'onnx', path),
    graph: graph as GraphFlavour,
    num_layers: posInt(v, 'num_layers', path),
    num_heads: kvHeads(v, path),
    head_dim: posInt(v, 'head_dim', path),
    vocab_size: posInt(v, 'vocab_size', path),
    external_data: externalData(v, path),
    dtype: kvDtype(v, path),
  };
}

function kvDtype(o: Obj, path: string): KvDtype {
  const v = o.dtype;
  if (v === undefined) return 'float32';
  if (!KV_DTYPES.includes(v as KvDtype)) fail(path + 'dtype', '"float32" or "float16"', v);
  return v as KvDtype;
}

/**
 * The KV cache's head count: `num_key_value_heads` (the name transformers configs use, smaller
 * than the query heads in grouped-query models) or `num_heads`; when both are given they must agree.
 */
function kvHeads(o: Obj, path: string): number {
  if (o.num_key_value_heads === undefined) return posInt(o, 'num_heads', path);
  const kv = posInt(o, 'num_key_value_heads', path);
  if (o.num_heads !== undefined && posInt(o, 'num_heads', path) !== kv) {
    fail(path + 'num_heads', `equal to num_key_value_heads (${kv}): both name the KV cache's head count`, o.num_heads);
  }
  return kv;
}

/** Optional list of bundle files; absent means the graph keeps its weights inside. */
function externalData(o: Obj, path: string): string[] {
  const v = o.external_data;
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(path + 'external_data', 'a list of file names', v);
  return v.map((_, i) => bundleFile(v as unknown as Obj, String(i), `${path}external_data.`));
}

/** Validates parsed prm.json content; throws ManifestError naming the first wrong field. */
export function parseManifest(raw: unknown): Manifest {
  if (!isObj(raw)) fail('(root)', 'a JSON object', raw);
  if (raw.format !== 'implicit-prm-bundle') fail('format', '"implicit-prm-bundle"', raw.format);
  if (raw.format_version !== 1) fail('format_version', '1 (the only version this service reads)', raw.format_version);
  const name = str(raw, 'name', '', { nonEmpty: true });
  const beta = raw.beta;
  if (typeof beta !== 'number' || !Number.isFinite(beta) || beta <= 0) fail('beta', 'a finite number > 0', beta);

  const policy = modelEntry(raw.policy, 'policy.');
  const reference = raw.reference === null ? null : modelEntry(raw.reference, 'reference.');
  if (reference !== null && reference.vocab_size !== policy.vocab_size) {
    fail('reference.vocab_size', `equal to policy.vocab_size (${policy.vocab_size}): both score the same tokens`,
      reference.vocab_size);
  }
  const tok = raw.tokenizer;
  if (!isObj(tok)) fail('tokenizer', 'an object', tok);
  const tokenizer = {
    tokenizer_json: bundleFile(tok, 'tokenizer_json', 'tokenizer.'),
    tokenizer_config: bundleFile(tok, 'tokenizer_config', 'tokenizer.'),
  };

  const step_separator = str(raw, 'step_separator', '', { nonEmpty: true });
  const use_chat_template = bool(raw, 'use_chat_template', '');
  const prompt_template = str(raw, 'prompt_template', '');
  if (!use_chat_template && !prompt_template.includes('{prompt}')) {
    fail('prompt_template', 'a string containing "{prompt}" (or set use_chat_template)', prompt_template);
  }
  const append_eos = bool(raw, 'append_eos', '');
  const step_boundaries = (raw.step_boundaries ?? 'prefix') as StepBoundaries;
  if (step_boundaries !== 'prefix' && step_boundaries !== 'eos-separator') fail('step_boundaries', '"prefix" or "eos-separator"', step_boundaries);
  const max_sequence_length = posInt(raw, 'max_sequence_length', '');

  const provenance = raw.provenance;
  if (provenance !== undefined && !isObj(provenance)) fail('provenance', 'an object', provenance);
  const fingerprint = raw.fingerprint;
  if (fingerprint !== undefined && (typeof fingerprint !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(fingerprint))) {
    fail('fingerprint', '"sha256:" followed by 64 lowercase hex digits', fingerprint);
  }

  return {
    format: 'implicit-prm-bundle',
    format_version: 1,
    name,
    beta,
    policy,
    reference,
    tokenizer,
    step_separator,
    prompt_template,
    use_chat_template,
    append_eos,
    step_boundaries,
    max_sequence_length,
    provenance: provenance as Record<string, unknown> | undefined,
    fingerprint: fingerprint as string | undefined,
  };
}
