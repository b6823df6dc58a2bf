/**
 * Checks an onnxruntime session against the graph interface of ARCHITECTURE.md §2 and the shape the
 * manifest declares, before the first request: a wrong flavour or layer count found at load time is
 * a clear log line; found at request time it would be an opaque onnxruntime error.
 */
import type { InferenceSession } from 'onnxruntime-node';
import type { GraphFlavour, ModelShape } from './types.js';

export interface ModelSpec extends ModelShape {
  flavour: GraphFlavour;
}

/** What the engine needs to know about a checked graph. */
export interface GraphInterface {
  flavour: GraphFlavour;
  numLayers: number;
  hasPositionIds: boolean;
  /** The output read for scores: "target_logprobs" or "logits". */
  scoreOutput: string;
  /**
   * The graph also outputs `new_key_values.{i}.key|value` [B, H, S, D], the key/values of the fed
   * tokens alone: a kept row's KV is then its past plus those, and `present` (its past again) is
   * never fetched. Optional; graphs without it are read from `present`.
   */
  newKvOutputs: boolean;
}

const PAST_RE = /^past_key_values\.(\d+)\.(key|value)$/;
const PRESENT_RE = /^present\.(\d+)\.(key|value)$/;
const NEW_KV_RE = /^new_key_values\.(\d+)\.(key|value)$/;

type Meta = InferenceSession.ValueMetadata;

function layerIndices(names: readonly string[], re: RegExp): Set<number> {
  const out = new Set<number>();
  for (const n of names) {
    const m = re.exec(n);
    if (m) out.add(Number(m[1]));
  }
  return out;
}

/** Checks a declared type and any concrete dims of one input/output against what we feed/read. */
function checkMeta(meta: Meta | undefined, type: string, dims: (number | null)[], what: string, errors: string[]): void {
  if (meta === undefined || !meta.isTensor) return;
  if (meta.type !== type) errors.push(`${what} is ${meta.type}, expected ${type}`);
  if (meta.shape.length > 0 && meta.shape.length !== dims.length) {
    errors.push(`${what} has rank ${meta.shape.length}, expected ${dims.length}`);
    return;
  }
  meta.shape.forEach((d, i) => {
    const want = dims[i];
    if (typeof d === 'number' && d > 0 && want !== null && d !== want) {
      errors.push(`${what} dimension ${i} is ${d}, the manifest implies ${want}`);
    }
  });
}

/** A session's names and metadata, and the mismatches found so far (in the order they are reported). */
interface GraphIo {
  inputs: readonly string[];
  outputs: readonly string[];
  inMeta: Map<string, InferenceSession.ValueMetadata>;
  outMeta: Map<string, InferenceSession.ValueMetadata>;
  spec: ModelSpec;
  /** The KV element type the manifest declares (prm.json `dtype`); every KV input and output has it. */
  kv: 'float32' | 'float16';
  errors: string[];
}

/**
 * Returns the checked interface, or throws an Error listing every mismatch; `label` names the
 * model file in messages (e.g. "policy.onnx").
 */
export function checkGraphInterface(session: InferenceSession, spec: ModelSpec, label: string): GraphInterface {
  const io: GraphIo = {
    inputs: session.inputNames,
    outputs: session.outputNames,
    inMeta: new Map(session.inputMetadata.map((m) => [m.name, m])),
    outMeta: new Map(session.outputMetadata.map((m) => [m.name, m])),
    spec,
    kv: spec.kvDtype ?? 'float32',
    errors: [],
  };
  checkFlavour(io);
  const hasPositionIds = checkTokenInputs(io);
  checkKvLayers(io);
  const newKvOutputs = checkNewKv(io);
  const scoreOutput = checkScores(io);
  if (io.errors.length > 0) throw new Error(`${label}: ${io.errors.join('; ')}`);
  return { flavour: spec.flavour, numLayers: spec.numLayers, hasPositionIds, scoreOutput, newKvOutputs };
}

function checkFlavour({ outputs, spec, errors }: GraphIo): void {
  const looksLike: GraphFlavour | 'unknown' = outputs.includes('target_logprobs')
    ? 'logprobs'
    : outputs.includes('logits')
      ? 'logits'
      : 'unknown';
  if (looksLike === spec.flavour) return;
  errors.push(
    `the manifest says graph "${spec.flavour}" but the graph ` +
      (looksLike === 'unknown'
        ? 'has neither a "logits" nor a "target_logprobs" output'
        : `has the "${looksLike}" flavour (${looksLike === 'logits' ? '"logits"' : '"target_logprobs"'} output)`),
  );
}

/** The token inputs each flavour needs, and nothing the service cannot feed; returns whether position_ids is there. */
function checkTokenInputs({ inputs, spec, errors }: GraphIo): boolean {
  for (const name of ['input_ids', 'attention_mask']) {
    if (!inputs.includes(name)) errors.push(`missing input "${name}"`);
  }
  const hasPositionIds = inputs.includes('position_ids');
  if (spec.flavour === 'logprobs') {
    if (!hasPositionIds) errors.push('missing input "position_ids" (required in the logprobs flavour)');
    if (!inputs.includes('target_ids')) errors.push('missing input "target_ids" (required in the logprobs flavour)');
  } else if (inputs.includes('target_ids')) {
    errors.push('input "target_ids" belongs to the logprobs flavour, not "logits"');
  }
  const known = new Set(['input_ids', 'attention_mask', 'position_ids', 'target_ids']);
  for (const name of inputs) {
    if (!known.has(name) && !PAST_RE.test(name)) errors.push(`unexpected input "${name}" (this service cannot feed it)`);
  }
  return hasPositionIds;
}

/** past_key_values and present: one key and one value per declared layer, of the KV shape. */
function checkKvLayers({ inputs, outputs, inMeta, outMeta, spec, kv, errors }: GraphIo): void {
  const { numLayers: L, numHeads: H, headDim: D } = spec;
  const pastLayers = layerIndices(inputs, PAST_RE);
  const presentLayers = layerIndices(outputs, PRESENT_RE);
  if (pastLayers.size !== L) {
    errors.push(`the manifest says num_layers ${L} but the graph has ${pastLayers.size} past_key_values.{i} layers`);
  }
  for (let i = 0; i < L; i++) {
    for (const kind of ['key', 'value']) {
      const past = `past_key_values.${i}.${kind}`;
      const present = `present.${i}.${kind}`;
      if (!inputs.includes(past)) errors.push(`missing input "${past}"`);
      else checkMeta(inMeta.get(past), kv, [null, H, null, D], `input "${past}"`, errors);
      if (!outputs.includes(present)) errors.push(`missing output "${present}"`);
      else checkMeta(outMeta.get(present), kv, [null, H, null, D], `output "${present}"`, errors);
    }
  }
  if (presentLayers.size !== pastLayers.size && pastLayers.size === L) {
    errors.push(`the graph has ${pastLayers.size} past layers but ${presentLayers.size} present layers`);
  }
}

/** new_key_values: all of them or none (half a set would leave some layers without their KV). */
function checkNewKv({ outputs, outMeta, spec, kv, errors }: GraphIo): boolean {
  const { numLayers: L, numHeads: H, headDim: D } = spec;
  const newKvNames = outputs.filter((n) => NEW_KV_RE.test(n));
  if (newKvNames.length === 0) return false;
  for (let i = 0; i < L; i++) {
    for (const kind of ['key', 'value']) {
      const name = `new_key_values.${i}.${kind}`;
      if (!outputs.includes(name)) errors.push(`missing output "${name}" (the graph has some new_key_values outputs, so it needs all)`);
      else checkMeta(outMeta.get(name), kv, [null, H, null, D], `output "${name}"`, errors);
    }
  }
  if (newKvNames.length !== 2 * L) errors.push(`the graph has ${newKvNames.length} new_key_values outputs, expected ${2 * L}`);
  return true;
}

/** The int64 token inputs and the score output's type and shape; returns the score output's name. */
function checkScores({ inMeta, outMeta, spec, errors }: GraphIo): string {
  for (const name of ['input_ids', 'attention_mask', 'position_ids', 'target_ids']) {
    checkMeta(inMeta.get(name), 'int64', [null, null], `input "${name}"`, errors);
  }
  const scoreOutput = spec.flavour === 'logprobs' ? 'target_logprobs' : 'logits';
  // Scores may be float16 in a float16 graph (read as float32 by the engine); the import keeps them float32.
  const scoreMeta = outMeta.get(scoreOutput);
  const scoreType = scoreMeta?.isTensor && scoreMeta.type === 'float16' ? 'float16' : 'float32';
  if (spec.flavour === 'logprobs') checkMeta(scoreMeta, scoreType, [null, null], 'output "target_logprobs"', errors);
  else checkMeta(scoreMeta, scoreType, [null, null, spec.vocabSize], 'output "logits"', errors);
  return scoreOutput;
}
