/** Tokenizer config facts: special tokens in both spellings, chat template lists, vocabulary size. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/bundle/tokenizer-files.js';
import { BUNDLES_DIR, SPECIAL, V } from '../fixtures/analytic/closed-form.js';

const SRC = join(BUNDLES_DIR, 'bigram-ref-free');
const tmp = mkdtempSync(join(tmpdir(), 'prm-tok-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function withConfig(edit: (c: Record<string, unknown>) => void): string {
  const c = JSON.parse(readFileSync(join(SRC, 'tokenizer_config.json'), 'utf8'));
  edit(c);
  const p = join(tmp, `cfg-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(p, JSON.stringify(c));
  return p;
}

describe('loadTokenizer', () => {
  it('reads vocabulary size, special tokens and the chat template', async () => {
    const t = await loadTokenizer(join(SRC, 'tokenizer.json'), join(SRC, 'tokenizer_config.json'));
    expect(t.vocabSize).toBe(V);
    expect([t.bosToken, t.eosToken, t.eosId]).toEqual(['<s>', '</s>', SPECIAL.eos]);
    expect(t.chatTemplate).toContain('add_generation_prompt');
  });

  it('accepts AddedToken-style special tokens, null tokens and a list of named chat templates', async () => {
    const cfg = withConfig((c) => {
      c.eos_token = { content: '</s>', lstrip: false };
      c.bos_token = null;
      c.chat_template = [{ name: 'tool_use', template: 'x' }, { name: 'default', template: 'y' }];
    });
    const t = await loadTokenizer(join(SRC, 'tokenizer.json'), cfg);
    expect([t.bosToken, t.eosToken, t.eosId, t.chatTemplate]).toEqual([undefined, '</s>', SPECIAL.eos, 'y']);
  });

  it('names the file when it is missing or not JSON', async () => {
    await expect(loadTokenizer(join(tmp, 'absent.json'), join(SRC, 'tokenizer_config.json'))).rejects.toThrow(/cannot read tokenizer file .*absent\.json/);
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, '[1, 2]');
    await expect(loadTokenizer(join(SRC, 'tokenizer.json'), bad)).rejects.toThrow(/tokenizer config .*bad\.json is not valid JSON: not a JSON object/);
  });
});
