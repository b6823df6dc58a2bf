/**
 * A lower bound on the tokens a text needs, from its length alone, so that a text too long for
 * the model is refused before it is tokenized (tokenizing megabytes takes seconds of the event
 * loop and hundreds of MiB). No token's string is longer than L UTF-16 code units, and a token
 * covers at most as many code units of the text as its string has (byte-level strings count UTF-8
 * bytes, never fewer than the code units they stand for), so a text of n code units needs at
 * least ⌈n / L⌉ tokens. A normalizer may shorten the text first (composition, stripping), so
 * with one there is no bound.
 */
export function longestTokenUnits(tokenizerJson: Record<string, unknown>): number | undefined {
  if (tokenizerJson.normalizer !== null && tokenizerJson.normalizer !== undefined) return undefined;
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

/** The fewest tokens `units` UTF-16 code units can take (0 when there is no bound). */
export function fewestTokens(units: number, longest: number | undefined): number {
  return longest === undefined ? 0 : Math.ceil(units / longest);
}
