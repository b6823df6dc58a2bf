/**
 * Loads a Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) and resolves the few
 * config facts the segmenter needs: special token strings/ids and the chat template.
 */
import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import { specialTokens, textTokenizer } from './literal-text.js';

export interface TokenizerBundle {
  tokenizer: Tokenizer;
  /** tokenizer.json as parsed (its decoder tells how token offsets are found). */
  json: Record<string, unknown>;
  /** The same tokenizer with its special tokens as plain text (for user text, literal-text.ts). */
  textTokenizer: Tokenizer;
  /** Special added tokens, content → id. */
  specialTokens: Map<string, number>;
  config: Record<string, unknown>;
  /** Largest id the tokenizer can produce + 1 (base vocab and added tokens). */
  vocabSize: number;
  bosToken?: string;
  eosToken?: string;
  eosId?: number;
  padToken?: string;
  /** tokenizer_config.chat_template (the "default" one when the config lists several). */
  chatTemplate?: string;
}

/** Special tokens appear either as plain strings or as AddedToken dicts ({content: "..."}). */
function tokenString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return undefined;
}

function chatTemplateOf(config: Record<string, unknown>): string | undefined {
  const t = config.chat_template;
  if (typeof t === 'string') return t;
  // Some configs carry a list of named templates; the unnamed request uses "default".
  if (Array.isArray(t)) {
    const named = t.find((x) => typeof x === 'object' && x !== null && (x as { name?: unknown }).name === 'default');
    const tpl = (named as { template?: unknown } | undefined)?.template;
    if (typeof tpl === 'string') return tpl;
  }
  return undefined;
}

async function readJson(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${what} ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

export async function loadTokenizer(tokenizerJsonPath: string, configPath: string): Promise<TokenizerBundle> {
  const json = await readJson(tokenizerJsonPath, 'tokenizer file');
  const config = await readJson(configPath, 'tokenizer config');
  let tokenizer: Tokenizer;
  let plain: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, config);
    plain = textTokenizer(json, config);
  } catch (err) {
    throw new Error(`tokenizer ${tokenizerJsonPath} could not be built: ${(err as Error).message}`);
  }
  let maxId = -1;
  for (const id of tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
  const bosToken = tokenString(config.bos_token);
  const eosToken = tokenString(config.eos_token);
  const padToken = tokenString(config.pad_token);
  const eosId = eosToken === undefined ? undefined : tokenizer.token_to_id(eosToken);
  return {
    tokenizer, json, textTokenizer: plain, specialTokens: specialTokens(json), config, vocabSize: maxId + 1, bosToken, eosToken, eosId, padToken,
    chatTemplate: chatTemplateOf(config),
  };
}
