/**
 * Where each token of an encoded text ends, in characters of that text, for the two tokenizer
 * families real models use — @huggingface/tokenizers returns token strings but no offsets:
 *
 *   byte-level BPE (GPT-2, Qwen, Llama-3): every character of a token string stands for one byte
 *   SentencePiece-style (Llama-2, Mistral): "▁" is a space, "<0xNN>" one byte, other characters
 *     their UTF-8 bytes; the normaliser prepends one "▁" that no character of the text made
 *
 * The byte lengths are checked against the text's own UTF-8 length; where they disagree (a
 * normaliser that changed the text, a tokenizer of another kind) there are no offsets and the
 * caller falls back to tokenizing prefixes. Pure, so it is tested on its own.
 */

export type OffsetScheme = 'byte-level' | 'metaspace';

interface TokenizerJson {
  decoder?: { type?: string; decoders?: { type?: string; pattern?: { String?: string } }[] } | null;
}

/** The tokenizer's family, from its decoder, or null when offsets cannot be derived. */
export function offsetSchemeOf(tokenizerJson: Record<string, unknown>): OffsetScheme | null {
  const decoder = (tokenizerJson as TokenizerJson).decoder;
  if (!decoder) return null;
  if (decoder.type === 'ByteLevel') return 'byte-level';
  if (decoder.type === 'Metaspace') return 'metaspace';
  const parts = decoder.type === 'Sequence' ? decoder.decoders ?? [] : [];
  if (parts.some((d) => d.type === 'Replace' && d.pattern?.String === '\u2581')) return 'metaspace';
  return null;
}

const encoder = new TextEncoder();
const BYTE_FALLBACK = /^<0x[0-9A-Fa-f]{2}>$/;

function tokenBytes(token: string, scheme: OffsetScheme): number {
  if (scheme === 'byte-level') return [...token].length;
  if (BYTE_FALLBACK.test(token)) return 1;
  return encoder.encode(token.replaceAll('\u2581', ' ')).length;
}

/** UTF-16 offset reached after each UTF-8 byte count of `text` (index: bytes, value: chars). */
function charAtByte(text: string): Int32Array {
  const out = new Int32Array(encoder.encode(text).length + 1).fill(-1);
  let bytes = 0;
  out[0] = 0;
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const units = cp > 0xffff ? 2 : 1;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += units;
    out[bytes] = i;
  }
  return out;
}

/**
 * The end of each token in characters of `text`, or null when the tokens do not account for the
 * text byte for byte. A token that ends inside a character (a byte-level piece of a multi-byte
 * character) ends after that character.
 */
export function tokenEnds(text: string, tokens: readonly string[], scheme: OffsetScheme): number[] | null {
  const total = encoder.encode(text).length;
  const lengths = tokens.map((t) => tokenBytes(t, scheme));
  let sum = lengths.reduce((a, b) => a + b, 0);
  // SentencePiece's prepended "▁" stands for no character of the text.
  if (scheme === 'metaspace' && sum === total + 1 && tokens.length > 0 && tokens[0]!.startsWith('\u2581')) {
    lengths[0]! -= 1;
    sum -= 1;
  }
  if (sum !== total) return null;
  const chars = charAtByte(text);
  const ends: number[] = [];
  let bytes = 0;
  for (const n of lengths) {
    bytes += n;
    let b = bytes;
    while (chars[b] === -1) b++;
    ends.push(chars[b]!);
  }
  return ends;
}

/**
 * Token ends for tokenizers whose token strings are the text's own characters (character-level and
 * other decoders that only concatenate): the running length, when the strings join up to the text.
 */
export function verbatimEnds(text: string, tokens: readonly string[]): number[] | null {
  const ends: number[] = [];
  let at = 0;
  for (const t of tokens) {
    if (!text.startsWith(t, at)) return null;
    at += t.length;
    ends.push(at);
  }
  return at === text.length ? ends : null;
}
