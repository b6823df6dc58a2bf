/**
 * The padded-token budget of one forward pass for a bundle, from what a pass allocates per padded
 * token rather than from a token count alone: a `logits` graph returns [B, S, V] scores, 4 bytes
 * each, so at a 152k vocabulary 2 048 tokens are 1.2 GiB per model; every graph returns the new
 * tokens' key/values (2 · layers · KV heads · head size, in the KV dtype). Pure, so it is tested
 * on its own.
 */

export interface PassModel {
  graph: 'logits' | 'logprobs';
  num_layers: number;
  num_heads: number;
  head_dim: number;
  vocab_size: number;
  dtype?: 'float32' | 'float16';
}

/** Bytes a pass allocates per padded token, over all of a bundle's models. */
export function passBytesPerToken(models: readonly PassModel[]): number {
  let bytes = 0;
  for (const m of models) {
    const scores = m.graph === 'logits' ? m.vocab_size * 4 : 4;
    const kv = 2 * m.num_layers * m.num_heads * m.head_dim * (m.dtype === 'float16' ? 2 : 4);
    bytes += scores + kv;
  }
  return bytes;
}

/**
 * The smaller of the token budget and what the byte budget allows, at least 1 (a row longer than
 * the budget still runs, alone, as it does under a token budget).
 */
export function tokenBudget(models: readonly PassModel[], maxBatchTokens: number, maxBatchBytes: number): number {
  return Math.max(1, Math.min(maxBatchTokens, Math.floor(maxBatchBytes / passBytesPerToken(models))));
}
