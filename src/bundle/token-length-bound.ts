/**
 * A lower bound on the tokens a text needs, from its length alone, so that a text too long for
 * the model is refused before it is tokenized (tokenizing megabytes takes seconds of the event
 * loop and hundreds of MiB). No token's string is longer than L UTF-16 code units, and a token
 * covers at most as many code units of the normalized text as its string has (byte-level strings
 * count UTF-8 bytes, never fewer than the code units they stand for), so a text whose normalized
 * form has n code units needs at least ⌈n / L⌉ tokens.
 *
 * A normalizer may shorten the text first. The ones that shorten it by a bounded factor at most
 * (normalizerShrink) keep a bound: a text of n code units needs at least ⌈n / (L · shrink)⌉
 * tokens. The others (stripping, removing characters, regular-expression replacements, compiled
 * character maps) give no bound.
 */

/**
 * Over every code point, in UTF-16 code units: the most its canonical decomposition (NFD) takes
 * per unit of it (U+1F82: 1 → 4), and the most a decomposition, canonical or compatibility (NFKD),
 * shortens it by (U+2F800: 2 → 1). test/bundle/token-length-bound.test.ts checks both against the
 * runtime's Unicode tables.
 */
export const DECOMPOSITION = { canonicalGrow: 4, shrink: 2 } as const;

/**
 * The factor by which a normalizer may shorten a text at most, or undefined when it has none.
 * A decomposed form (NFD, NFKD) is never shorter than the text over DECOMPOSITION.shrink; a
 * composed form (NFC, NFKC) decomposes canonically to the decomposed form, each of its characters
 * growing by at most DECOMPOSITION.canonicalGrow, so it is at least the decomposed length over that. Lowercasing never shortens a
 * character; prepending lengthens; replacing a literal string by one at least as long does not
 * shorten.
 */
export function normalizerShrink(normalizer: unknown): number | undefined {
  if (normalizer === null || normalizer === undefined) return 1;
  const n = normalizer as { type?: string; normalizers?: unknown[]; pattern?: { String?: unknown }; content?: unknown };
  switch (n.type) {
    case 'NFD':
    case 'NFKD':
      return DECOMPOSITION.shrink;
    case 'NFC':
    case 'NFKC':
      return DECOMPOSITION.shrink * DECOMPOSITION.canonicalGrow;
    case 'Lowercase':
    case 'Prepend':
      return 1;
    case 'Replace': {
      const from = n.pattern?.String;
      const to = n.content;
      if (typeof from !== 'string' || typeof to !== 'string' || from.length === 0 || to.length === 0) return undefined;
      return Math.max(1, from.length / to.length);
    }
    case 'Sequence':
      return (n.normalizers ?? []).reduce<number | undefined>((f, m) => {
        const g = normalizerShrink(m);
        return f === undefined || g === undefined ? undefined : f * g;
      }, 1);
    default:
      return undefined;
  }
}

/** The longest token string of the vocabulary and added tokens, in UTF-16 code units. */
export function longestTokenUnits(tokenizerJson: Record<string, unknown>): number | undefined {
  const model = tokenizerJson.model as { vocab?: unknown } | undefined;
  const vocab = model?.vocab;
  let strings: Iterable<string>;
  if (Array.isArray(vocab)) strings = vocab.map((entry: unknown) => String(Array.isArray(entry) ? entry[0] : entry));
  else if (vocab !== null && typeof vocab === 'object') strings = Object.keys(vocab);
  else return undefined;
  let longest = 1;
  for (const s of strings) longest = Math.max(longest, s.length);
  for (const t of (tokenizerJson.added_tokens as { content?: string }[] | undefined) ?? []) longest = Math.max(longest, t.content?.length ?? 0);
  return longest;
}

/** The most code units of a text one token can stand for (L · shrink), or undefined: no bound. */
export function unitsPerTokenAtMost(tokenizerJson: Record<string, unknown>): number | undefined {
  const longest = longestTokenUnits(tokenizerJson);
  const shrink = normalizerShrink(tokenizerJson.normalizer);
  return longest === undefined || shrink === undefined ? undefined : longest * shrink;
}

/** The fewest tokens `units` UTF-16 code units can take (0 when there is no bound). */
export function fewestTokens(units: number, unitsPerToken: number | undefined): number {
  return unitsPerToken === undefined ? 0 : Math.ceil(units / unitsPerToken);
}
