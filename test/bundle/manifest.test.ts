/** prm.json validation: good manifests parse, each kind of mistake names its field. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifest } from '../../src/bundle/manifest.js';
import { BUNDLES_DIR } from '../fixtures/analytic/closed-form.js';

const good = JSON.parse(readFileSync(join(BUNDLES_DIR, 'bigram-logprobs', 'prm.json'), 'utf8')) as Record<string, any>;

function withChange(path: string, value: unknown): unknown {
  const m = structuredClone(good);
  const keys = path.split('.');
  let o = m;
  for (const k of keys.slice(0, -1)) o = o[k];
  if (value === undefined) delete o[keys[keys.length - 1]];
  else o[keys[keys.length - 1]] = value;
  return m;
}

describe('parseManifest', () => {
  it('accepts the committed bundles, including a null reference and unknown extra fields', () => {
    expect(parseManifest(good).policy.graph).toBe('logprobs');
    const free = JSON.parse(readFileSync(join(BUNDLES_DIR, 'bigram-ref-free', 'prm.json'), 'utf8'));
    expect(parseManifest(free).reference).toBeNull();
    expect(parseManifest(withChange('policy.architecture', { d_model: 32 })).policy.num_layers).toBe(2);
    // Graphs keep their weights inside and have float32 KV unless the entry says otherwise.
    expect(parseManifest(good).policy).toMatchObject({ dtype: 'float32', external_data: [] });
    expect(parseManifest(withChange('policy.dtype', 'float16')).policy.dtype).toBe('float16');
    // The KV head count under transformers' name, alone or beside num_heads.
    const heads = good.policy.num_heads as number;
    const named = structuredClone(good);
    delete named.policy.num_heads;
    named.policy.num_key_value_heads = heads;
    expect(parseManifest(named).policy.num_heads).toBe(heads);
    expect(parseManifest(withChange('policy.num_key_value_heads', heads)).policy.num_heads).toBe(heads);
    expect(parseManifest(withChange('policy.external_data', ['policy.onnx_data'])).policy.external_data).toEqual(['policy.onnx_data']);
  });

  it.each([
    ['format', 'something-else', /"format" must be "implicit-prm-bundle"/],
    ['format_version', 2, /"format_version" must be 1/],
    ['name', '', /"name" must be a non-empty string/],
    ['beta', 0, /"beta" must be a finite number > 0/],
    ['beta', undefined, /"beta" .*\(missing\)/],
    ['policy', undefined, /"policy" must be an object/],
    ['policy.graph', 'logit', /"policy.graph" must be "logits" or "logprobs"/],
    ['policy.num_layers', 1.5, /"policy.num_layers" must be a positive integer/],
    ['policy.onnx', '../outside.onnx', /"policy.onnx" must be a relative path inside the bundle folder/],
    ['reference.head_dim', -3, /"reference.head_dim" must be a positive integer/],
    ['policy.dtype', 'bfloat16', /"policy.dtype" must be "float32" or "float16"/],
    ['step_boundaries', 'shifted', /"step_boundaries" must be "prefix" or "eos-separator"/],
    ['policy.num_key_value_heads', 3, /"policy.num_heads" must be equal to num_key_value_heads \(3\)/],
    ['policy.num_key_value_heads', 0, /"policy.num_key_value_heads" must be a positive integer/],
    ['policy.external_data', 'policy.onnx_data', /"policy.external_data" must be a list of file names/],
    ['policy.external_data', ['../weights.bin'], /"policy.external_data.0" must be a relative path inside the bundle folder/],
    ['reference.vocab_size', 54, /"reference.vocab_size" must be equal to policy.vocab_size/],
    ['tokenizer.tokenizer_json', 7, /"tokenizer.tokenizer_json" must be a non-empty string/],
    ['step_separator', '', /"step_separator" must be a non-empty string/],
    ['prompt_template', 'no placeholder', /"prompt_template" must be a string containing "\{prompt\}"/],
    ['use_chat_template', 'yes', /"use_chat_template" must be true or false/],
    ['append_eos', undefined, /"append_eos" must be true or false \(missing\)/],
    ['max_sequence_length', 0, /"max_sequence_length" must be a positive integer/],
    ['fingerprint', 'sha256:abc', /"fingerprint" must be "sha256:" followed by 64/],
    ['provenance', 'x', /"provenance" must be an object/],
  ])('%s = %j is rejected', (path, value, message) => {
    expect(() => parseManifest(withChange(path, value))).toThrow(ManifestError);
    expect(() => parseManifest(withChange(path, value))).toThrow(message);
  });

  it('rejects a non-object', () => {
    expect(() => parseManifest([1])).toThrow(/must be a JSON object/);
  });

  it('allows a template without {prompt} when the chat template is used', () => {
    const m = parseManifest({ ...(withChange('prompt_template', '') as object), use_chat_template: true });
    expect(m.use_chat_template).toBe(true);
  });
});
