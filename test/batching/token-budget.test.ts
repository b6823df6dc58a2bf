/** The byte-bounded token budget of a pass, on closed-form sizes. */
import { describe, expect, it } from 'vitest';
import { passBytesPerToken, tokenBudget } from '../../src/batching/token-budget.js';

const qwenLogits = { graph: 'logits' as const, num_layers: 28, num_heads: 4, head_dim: 128, vocab_size: 151_936 };

describe('token budget', () => {
  it('counts scores and new key/values per padded token, over all models', () => {
    // logits: V · 4 bytes; KV: 2 · 28 · 4 · 128 · 4 bytes.
    expect(passBytesPerToken([qwenLogits])).toBe(151_936 * 4 + 2 * 28 * 4 * 128 * 4);
    expect(passBytesPerToken([{ ...qwenLogits, graph: 'logprobs' }])).toBe(4 + 2 * 28 * 4 * 128 * 4);
    expect(passBytesPerToken([{ ...qwenLogits, graph: 'logprobs', dtype: 'float16' }])).toBe(4 + 2 * 28 * 4 * 128 * 2);
    expect(passBytesPerToken([qwenLogits, qwenLogits])).toBe(2 * passBytesPerToken([qwenLogits]));
  });

  it('keeps the token budget where the bytes allow it, lowers it where they do not, never below 1', () => {
    const MiB = 1 << 20;
    expect(tokenBudget([{ ...qwenLogits, graph: 'logprobs' }], 2048, 512 * MiB)).toBe(2048);
    // Two 152k-vocabulary logits graphs: 1.33 MB per token → 403 tokens in 512 MiB.
    expect(tokenBudget([qwenLogits, qwenLogits], 2048, 512 * MiB)).toBe(Math.floor((512 * MiB) / (2 * (151_936 * 4 + 2 * 28 * 4 * 128 * 4))));
    expect(tokenBudget([qwenLogits], 2048, 1)).toBe(1);
  });
});
