/**
 * Turns (prompt, steps) into token segments (ARCHITECTURE.md §1): segment 0 is the prompt rendered
 * through the bundle's template; segment k is step k's text + the step separator, except the last
 * step, which gets no separator (and EOS when append_eos). The ids are those of tokenizing the
 * whole text, as the model saw it in training, cut at the step boundaries (segment() says how).
 * Prompts and steps are user text: only the templates and the separator may put control tokens
 * in (literal-text.ts).
 */
import { Template } from '@huggingface/jinja';
import { ErrorCode, PrmError } from '../errors.js';
import { LiteralTextEncoder, type TextPart } from './literal-text.js';
import { offsetSchemeOf, tokenEnds, verbatimEnds, type OffsetScheme } from './token-offsets.js';
import type { Manifest } from './manifest.js';
import { TokenMemo } from './token-memo.js';
import { fewestTokens, unitsPerTokenAtMost } from './token-length-bound.js';
import type { TokenizerBundle } from './tokenizer-files.js';
import type { StepSpans } from './step-spans.js';

export interface Segments {
  /** Prompt segment ids (at least one). */
  prompt: readonly number[];
  /** One segment per step, each with at least one id. */
  steps: (readonly number[])[];
}

/** Segments with the text they were cut from (Segmenter.render). */
export interface RenderedSegments extends Segments {
  /** The prompt as the model sees it (template applied). */
  promptText: string;
  /** The steps joined by the separator, the separator after the last one too when partial. */
  responseText: string;
  /** Per step, each token's [start, end) in responseText; null when not derivable. */
  stepOffsets: StepSpans | null;
}

export type SegmenterLayout = Pick<
  Manifest,
  'step_separator' | 'prompt_template' | 'use_chat_template' | 'append_eos' | 'max_sequence_length'
> & Partial<Pick<Manifest, 'step_boundaries'>>;

/** Stands for the user's message while the chat template renders around it (a private-use character). */
const CONTENT_MARKER = '\uE000prm-content\uE000';

export class Segmenter {
  private readonly tok: TokenizerBundle;
  private readonly layout: SegmenterLayout;
  private readonly chatTemplate?: Template;
  private readonly memo: TokenMemo;
  private readonly literal: LiteralTextEncoder;
  /** For the prefixes of one trace, which no other request repeats: not memoised. */
  private readonly literalUncached: LiteralTextEncoder;
  /** How token ends are found in characters (token-offsets.ts); null: by tokenizing prefixes. */
  private readonly offsets: OffsetScheme | null;
  /** Most code units of text one token stands for; undefined: no length bound (token-length-bound.ts). */
  private readonly unitsPerToken: number | undefined;
  /** prompt_template split at "{prompt}" (the same for every prompt). */
  private readonly templatePieces: readonly string[];
  /** The chat template rendered around CONTENT_MARKER, split at it (the same for every prompt). */
  private readonly chatAround?: string[];

  /** Throws (a plain Error naming the problem) when the tokenizer cannot serve this layout. */
  constructor(tok: TokenizerBundle, layout: SegmenterLayout) {
    this.tok = tok;
    this.layout = layout;
    this.memo = new TokenMemo((text) => this.plainEncode(text).ids);
    this.literal = new LiteralTextEncoder(tok.specialTokens, (text) => this.memo.ids(text));
    this.literalUncached = new LiteralTextEncoder(tok.specialTokens, (text) => this.plainEncode(text).ids);
    this.offsets = offsetSchemeOf(tok.json);
    this.unitsPerToken = unitsPerTokenAtMost(tok.json);
    this.templatePieces = layout.prompt_template.split('{prompt}');
    if (layout.use_chat_template) {
      if (tok.chatTemplate === undefined) {
        throw new Error('use_chat_template is true but tokenizer_config.json has no chat_template');
      }
      try {
        this.chatTemplate = new Template(tok.chatTemplate);
      } catch (err) {
        throw new Error(`tokenizer_config.json chat_template does not parse: ${(err as Error).message}`);
      }
      try {
        this.chatAround = this.renderChat(CONTENT_MARKER).split(CONTENT_MARKER);
      } catch (err) {
        throw new Error(`tokenizer_config.json chat_template does not render a user message: ${(err as Error).message}`);
      }
    }
    if (layout.append_eos && tok.eosId === undefined) {
      throw new Error(
        tok.eosToken === undefined
          ? 'append_eos is true but tokenizer_config.json has no eos_token'
          : `append_eos is true but eos_token ${JSON.stringify(tok.eosToken)} is not in the tokenizer vocabulary`,
      );
    }
  }

  get vocabSize(): number {
    return this.tok.vocabSize;
  }

  /** The tokenizer's end-of-sequence and padding texts: what a sampled response may end with. */
  get endTexts(): string[] {
    return [this.tok.eosToken, this.tok.padToken].filter((t): t is string => t !== undefined && t.length > 0);
  }

  /** The fewest tokens text of this many UTF-16 code units can take under this tokenizer. */
  fewestTokens(units: number): number {
    return fewestTokens(units, this.unitsPerToken);
  }

  /** Prompt + response tokens the model takes. */
  get maxSequenceLength(): number {
    return this.layout.max_sequence_length;
  }

  get separator(): string {
    return this.layout.step_separator;
  }

  /** The prompt text as the model sees it. */
  renderPrompt(prompt: string): string {
    return this.promptParts(prompt).map((p) => p.text).join('');
  }

  /** The rendered prompt as bundle text around the user's prompt (literal). */
  private promptParts(prompt: string): TextPart[] {
    if (this.chatTemplate === undefined) {
      const pieces = this.templatePieces;
      return pieces.flatMap((text, i) => (i === 0 ? [{ text, literal: false }] : [{ text: prompt, literal: true }, { text, literal: false }]));
    }
    const rendered = this.renderChat(prompt);
    // The template may transform the content (trim it, say): render it once more around a marker
    // and take what lies between the template's own text as the user's, when that is unambiguous.
    const [before, after, ...more] = this.chatAround!;
    if (after === undefined || more.length > 0 || !rendered.startsWith(before!) || !rendered.endsWith(after)
      || rendered.length < before!.length + after.length) {
      return [{ text: rendered, literal: false }];
    }
    const content = rendered.slice(before!.length, rendered.length - after.length);
    return [{ text: before!, literal: false }, { text: content, literal: true }, { text: after, literal: false }];
  }

  private renderChat(content: string): string {
    return this.chatTemplate!.render({
      messages: [{ role: 'user', content }],
      add_generation_prompt: true,
      bos_token: this.tok.bosToken ?? '',
      eos_token: this.tok.eosToken ?? '',
    });
  }

  /** Text with the special tokens as text (literal-text.ts), its ids and token strings. */
  private plainEncode(text: string): { ids: number[]; tokens: string[] } {
    const e = this.tok.textTokenizer.encode(text, { add_special_tokens: false });
    return { ids: e.ids, tokens: e.tokens };
  }

  /** Ids of bundle and user text together (memoised runs: prompts and steps repeat across requests). */
  private encode(parts: readonly TextPart[]): readonly number[] {
    return this.literal.encode(parts);
  }

  /**
   * Token segments of one trace: the ids of tokenizing the whole rendered text (prompt, then the
   * steps joined by the separator), cut at the step boundaries, plus EOS when the bundle says so.
   * With `partial` the trace continues after its last step (tree search): every step, the last
   * included, gets the separator and no EOS is appended.
   *
   * Boundaries: a token belongs to the segment in which its last character lies, so one that
   * straddles a step boundary belongs to the later step. Where the segments tokenized one by one
   * already join up to the whole text's ids (most byte-level BPE text), those are the segments;
   * otherwise the tokens' character ends come from their strings (token-offsets.ts), or, for
   * tokenizers of another kind, from tokenizing each prefix alone (its common prefix with the
   * whole text's ids ends the segment).
   */
  segment(prompt: string, steps: readonly string[], opts: { partial?: boolean } = {}): Segments {
    const partial = opts.partial === true;
    return this.cut(this.pieces(prompt, steps, partial), partial);
  }

  /**
   * segment() plus the rendered text and each step token's [start, end) in characters of the
   * rendered response (the steps joined by the separator): a token that begins in the prompt starts
   * at 0, an appended EOS is [length, length]. Offsets are null when the tokens' strings do not
   * account for the text (a normaliser that rewrites it, a tokenizer of another kind).
   */
  render(prompt: string, steps: readonly string[], opts: { partial?: boolean } = {}): RenderedSegments {
    const partial = opts.partial === true;
    const pieces = this.pieces(prompt, steps, partial);
    const segments = this.cut(pieces, partial);
    const promptText = this.joined(pieces[0]!);
    const responseText = pieces.slice(1).map((p) => this.joined(p)).join('');
    return { ...segments, promptText, responseText, stepOffsets: this.stepOffsets(pieces, segments, promptText.length) };
  }

  /** The trace as text parts: [prompt, step 1 (+ separator), ..., step n (+ separator when partial)]. */
  private pieces(prompt: string, steps: readonly string[], partial: boolean): TextPart[][] {
    if (steps.length === 0) throw new PrmError(ErrorCode.EMPTY_STEPS, 'the trace has no steps');
    const promptParts = this.promptParts(prompt);
    // Index of the step that ends the trace (no separator, maybe EOS); none when partial.
    const last = partial ? steps.length : steps.length - 1;
    const stepParts = steps.map((text, k): TextPart[] => {
      if (text.length === 0 || this.encode([{ text, literal: true }]).length === 0) {
        throw new PrmError(ErrorCode.EMPTY_STEP, `step ${k + 1} of ${steps.length} tokenizes to zero tokens`);
      }
      return k < last ? [{ text, literal: true }, { text: this.layout.step_separator, literal: false }] : [{ text, literal: true }];
    });
    return [promptParts, ...stepParts];
  }

  /** The pieces' whole-text ids cut into segments, EOS appended, the sequence length checked. */
  private cut(pieces: TextPart[][], partial: boolean): Segments {
    const one: (readonly number[])[] = pieces.map((p) => this.encode(p));
    if (one[0]!.length === 0) {
      throw new PrmError(ErrorCode.EMPTY_PROMPT, 'the prompt renders to zero tokens; the first step needs context');
    }
    const whole = this.encode(pieces.flat());
    const segs: (readonly number[])[] = this.layout.step_boundaries === 'eos-separator' ? this.cutAtEosSeparator(pieces, whole, one)
      : joinsUp(one, whole) ? one : this.cutAtEnds(pieces, whole) ?? this.cutAtPrefixes(pieces, whole);
    // Segments may be the token memo's shared arrays: EOS goes on a copy of the last one.
    if (this.layout.append_eos && !partial) segs[segs.length - 1] = [...segs[segs.length - 1]!, this.tok.eosId!];
    const total = segs.reduce((n, ids) => n + ids.length, 0);
    if (total > this.layout.max_sequence_length) {
      throw new PrmError(
        ErrorCode.SEQUENCE_TOO_LONG,
        `prompt + response is ${total} tokens; this model takes at most ${this.layout.max_sequence_length}`,
      );
    }
    return { prompt: segs[0]!, steps: segs.slice(1) };
  }

  /** Each step token's span in the response (render()), or null when the ends are not derivable. */
  private stepOffsets(pieces: readonly TextPart[][], segs: Segments, promptLength: number): StepSpans | null {
    const ids = [...segs.prompt, ...segs.steps.flat()];
    const text = this.joined(pieces.flat());
    const enc = this.literalUncached.encodeWithEnds(pieces.flat(), (run, tokens) => this.runEnds(run, tokens), (run) => this.plainEncode(run));
    // The text's own tokens, then at most the EOS the bundle appends (it has no characters).
    if (enc.ends === null || ids.length - enc.ids.length > 1 || !joinsUp([enc.ids], ids.slice(0, enc.ids.length))) return null;
    const ends = enc.ends;
    const endOf = (i: number) => (i < ends.length ? ends[i]! : text.length);
    // The prompt has at least one token (cut), so every response token has one before it.
    const first = segs.prompt.length;
    const spans = new Int32Array(2 * (ids.length - first));
    for (let i = first, k = 0; i < ids.length; i++, k += 2) {
      spans[k] = Math.max(0, endOf(i - 1) - promptLength);
      spans[k + 1] = Math.max(0, endOf(i) - promptLength);
    }
    return { spans, stepTokens: segs.steps.map((step) => step.length) };
  }

  /** Token ends of one run from its token strings: the tokenizer family's rule, else verbatim. */
  private runEnds(run: string, tokens: readonly string[]): number[] | null {
    return (this.offsets === null ? null : tokenEnds(run, tokens, this.offsets)) ?? verbatimEnds(run, tokens);
  }

  /** Where the whole text's tokens end, in characters (null: not derivable for this tokenizer or text). */
  private wholeEnds(pieces: readonly TextPart[][], whole: readonly number[]): number[] | null {
    if (this.offsets === null) return null;
    const scheme = this.offsets;
    const { ids, ends } = this.literalUncached.encodeWithEnds(pieces.flat(), (run, tokens) => tokenEnds(run, tokens, scheme), (text) => this.plainEncode(text));
    return ends !== null && joinsUp([ids], whole) ? ends : null;
  }

  /**
   * The whole text's ids cut at the pieces' character boundaries: a token belongs to the segment in
   * which its last character lies, so one straddling a boundary belongs to the later step. Linear in
   * the text; the same cut as tokenizing each prefix alone wherever that reproduces the earlier
   * tokens (the tests check both against transformers).
   */
  private cutAtEnds(pieces: readonly TextPart[][], whole: readonly number[]): number[][] | null {
    const ends = this.wholeEnds(pieces, whole);
    if (ends === null) return null;
    const cuts: number[] = [];
    let boundary = 0;
    let t = 0;
    for (const piece of pieces.slice(0, -1)) {
      boundary += piece.reduce((n, p) => n + p.text.length, 0);
      while (t < ends.length && ends[t]! <= boundary) t++;
      cuts.push(t);
    }
    return this.checkedCuts(whole, [...cuts, whole.length]);
  }

  /**
   * step_boundaries "eos-separator", the EurusPRM model cards' rule: the prompt ends two tokens
   * before the end of (prompt + EOS), and step k < n ends after as many tokens as (the text through
   * step k's own text + EOS + separator) has. Their code gathers the cumulative sum at len − 2 of
   * those ids, with the log-probs shifted by one: so the first step counts the prompt's last token,
   * and a step often counts the first token of the next.
   */
  private cutAtEosSeparator(pieces: readonly TextPart[][], whole: readonly number[], one: readonly (readonly number[])[]): number[][] {
    if (this.tok.eosToken === undefined) throw new Error('step_boundaries "eos-separator" needs an eos_token');
    const eos: TextPart = { text: this.tok.eosToken, literal: false };
    const sep: TextPart = { text: this.layout.step_separator, literal: false };
    // The prompt's ids + EOS, less two: the prompt's ids less one.
    const cuts = [one[0]!.length - 1];
    // Counting "the rest of the step alone" reproduces the card's prefix tokenization for byte-level
    // BPE; SentencePiece would give that rest a leading "▁" of its own, so it tokenizes prefixes.
    const ends = this.offsets === 'byte-level' ? this.wholeEnds(pieces, whole) : null;
    let text = this.joined(pieces[0]!); // the text before step k
    let t = 0;
    for (let k = 1; k < pieces.length - 1; k++) {
      const [step, separator] = pieces[k]!;
      let count: number;
      if (ends === null) {
        count = this.literalUncached.encode([...pieces.slice(0, k).flat(), step!, eos, sep]).length;
      } else {
        // The whole text's tokens that end inside the step's text, then the rest of it alone.
        const stepEnd = text.length + step!.text.length;
        while (t < ends.length && ends[t]! <= stepEnd) t++;
        const lastEnd = t === 0 ? 0 : ends[t - 1]!;
        const rest = lastEnd >= text.length ? step!.text.slice(lastEnd - text.length) : text.slice(lastEnd) + step!.text;
        count = t + this.literalUncached.encode([{ text: rest, literal: true }, eos, sep]).length;
      }
      text += step!.text + (separator?.text ?? '');
      cuts.push(Math.min(whole.length, Math.max(cuts[cuts.length - 1]!, count)));
    }
    return this.checkedCuts(whole, [...cuts, whole.length]);
  }

  private joined(parts: readonly TextPart[]): string {
    return parts.map((p) => p.text).join('');
  }

  /** The segments between `ends` (exclusive ends), each step with at least one token. */
  private checkedCuts(whole: readonly number[], ends: readonly number[]): number[][] {
    const segs = ends.map((end, k) => whole.slice(k === 0 ? 0 : ends[k - 1], end));
    if (segs[0]!.length === 0) {
      throw new PrmError(ErrorCode.EMPTY_PROMPT, 'the prompt has no token of its own in the whole text; the first step needs context');
    }
    segs.forEach((ids, k) => {
      if (k > 0 && ids.length === 0) {
        throw new PrmError(ErrorCode.EMPTY_STEP, `step ${k} of ${segs.length - 1} has no token of its own: the whole text tokenizes it together with its neighbours`);
      }
    });
    return segs;
  }

  /** The whole text's ids cut where tokenizing each prefix alone stops agreeing with them. */
  private cutAtPrefixes(pieces: readonly TextPart[][], whole: readonly number[]): number[][] {
    const cuts: number[] = [];
    let prefix: TextPart[] = [];
    for (let k = 0; k < pieces.length - 1; k++) {
      prefix = [...prefix, ...pieces[k]!];
      const alone = this.literalUncached.encode(prefix);
      cuts.push(Math.max(cuts[cuts.length - 1] ?? 0, commonPrefix(alone, whole)));
    }
    cuts.push(whole.length);
    return this.checkedCuts(whole, cuts);
  }
}

/** Whether the segments' ids, one after the other, are exactly `whole`. */
function joinsUp(segments: readonly (readonly number[])[], whole: readonly number[]): boolean {
  let at = 0;
  for (const ids of segments) {
    for (const id of ids) if (whole[at++] !== id) return false;
  }
  return at === whole.length;
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}
