/**
 * Tokenizing rendered text in which only the bundle's own text (the prompt template, the chat
 * template, the step separator) may put control tokens: user text — prompts and steps — is
 * tokenized as text even where it spells a special token ("<|im_end|>", "</s>"), so a client cannot
 * end a turn or inject a role by typing its marker.
 *
 * The text is a list of parts, each marked literal (user text) or not (bundle text). Special tokens
 * are looked for in bundle text only; the text between two of them — bundle and user text together,
 * as one run — is encoded by a tokenizer whose special tokens are plain text (transformers'
 * `split_special_tokens=True`). Where the user text spells no special token, the ids equal those of
 * encoding the whole rendered string with the bundle's tokenizer (added tokens split first, then
 * each run between them encoded), so nothing changes for ordinary input.
 */
import { Tokenizer } from '@huggingface/tokenizers';


export interface TextPart {
  text: string;
  /** User text: never a control token, whatever it spells. */
  literal: boolean;
}

interface AddedTokenJson {
  content: string;
  special?: boolean;
}

/** The special added tokens of a tokenizer.json (content → id). */
export function specialTokens(tokenizerJson: Record<string, unknown>): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of (tokenizerJson.added_tokens ?? []) as (AddedTokenJson & { id: number })[]) {
    if (t.special === true && t.content.length > 0) out.set(t.content, t.id);
  }
  return out;
}

/**
 * The same tokenizer with its special tokens demoted to text: the pieces they are spelled with are
 * split and merged like any other text. Non-special added tokens stay (transformers keeps them too).
 */
export function textTokenizer(tokenizerJson: Record<string, unknown>, config: Record<string, unknown>): Tokenizer {
  const added = (tokenizerJson.added_tokens ?? []) as AddedTokenJson[];
  const kept = added.filter((t) => t.special !== true);
  const plainConfig = { ...config };
  delete plainConfig.added_tokens_decoder;
  return new Tokenizer({ ...tokenizerJson, added_tokens: kept }, plainConfig);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class LiteralTextEncoder {
  private readonly specialPattern: RegExp | null;

  /** `encodeRun` encodes text with special tokens as text (memoised by the caller). */
  constructor(
    private readonly specials: ReadonlyMap<string, number>,
    private readonly encodeRun: (text: string) => readonly number[],
  ) {
    // Longest first, so "<|im_start|>" wins over a shorter token it begins with.
    const names = [...specials.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.specialPattern = names.length > 0 ? new RegExp(names.join('|'), 'g') : null;
  }

  /**
   * Ids of the parts, as one text whose control tokens come from bundle text only. Text without a
   * control token is one run: its ids are `encodeRun`'s own array (frozen when memoised), not a
   * copy, since a request of thousands of samples would otherwise copy every memo hit.
   */
  encode(parts: readonly TextPart[]): readonly number[] {
    const chunks: (readonly number[] | number)[] = [];
    this.walk(parts, (run) => chunks.push(this.encodeRun(run)), (id) => chunks.push(id));
    const [first] = chunks;
    if (chunks.length === 1 && typeof first !== 'number') return first!;
    const ids: number[] = [];
    // A loop, not push(...run): a run of a few hundred thousand ids would overflow the call stack.
    for (const chunk of chunks) {
      if (typeof chunk === 'number') ids.push(chunk);
      else for (const id of chunk) ids.push(id);
    }
    return ids;
  }

  /**
   * The same ids with where each token ends, in characters of the parts' joined text (a control
   * token ends after its own spelling); `ends` is null when a run's offsets cannot be derived.
   * `endsOf` gives a run's token ends from its token strings (token-offsets.ts), or null.
   */
  encodeWithEnds(
    parts: readonly TextPart[],
    endsOf: (text: string, tokens: readonly string[]) => number[] | null,
    tokenize: (text: string) => { ids: number[]; tokens: string[] },
  ): { ids: number[]; ends: number[] | null } {
    const ids: number[] = [];
    let ends: number[] | null = [];
    let at = 0;
    this.walk(parts, (run) => {
      const enc = tokenize(run);
      for (const id of enc.ids) ids.push(id);
      const runEnds = ends === null ? null : endsOf(run, enc.tokens);
      ends = runEnds === null || ends === null ? null : [...ends, ...runEnds.map((e) => at + e)];
      at += run.length;
    }, (id, text) => {
      ids.push(id);
      at += text.length;
      ends?.push(at);
    });
    return { ids, ends };
  }

  /** Splits the parts into runs of text and control tokens from bundle text, in order. */
  private walk(parts: readonly TextPart[], onRun: (text: string) => void, onSpecial: (id: number, text: string) => void): void {
    let run = '';
    const flush = () => {
      if (run.length > 0) onRun(run);
      run = '';
    };
    for (const part of parts) {
      if (part.literal || this.specialPattern === null) {
        run += part.text;
        continue;
      }
      let from = 0;
      for (const m of part.text.matchAll(this.specialPattern)) {
        run += part.text.slice(from, m.index);
        flush();
        onSpecial(this.specials.get(m[0])!, m[0]);
        from = m.index + m[0].length;
      }
      run += part.text.slice(from);
    }
    flush();
  }
}
