"""Attention exported as one onnxruntime `com.microsoft.MultiHeadAttention` node per layer.

The plain export spells attention as MatMul, scale, bias Add, Softmax and MatMul over [B, H, S, T]
tensors, each written out in full; onnxruntime's fused kernel does the same arithmetic per
(row, head) with the causal and padding masks applied inside (`unidirectional=1`, a
[B, P + S] key padding mask), and concatenates the past itself. Same inputs, same outputs and the
same results (equal to the bit on the benchmark model's random inputs); 2–7 % less time per pass
on a CPU (bench/NOTES.md #15). The node needs onnxruntime, which is what serves bundles
(its CUDA provider has the op too, but no fused graph has been run on a GPU here);
`--no-fused-attention` exports the plain form for other runtimes.

In PyTorch (training, the reference scorer) this is never used: `Block.forward` keeps the plain
form. During export, the autograd function's `forward` gives the tracer the plain form's values and
`symbolic` replaces it by the fused node.
"""
from __future__ import annotations

import math

import torch
from torch.onnx import symbolic_helper


class FusedAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, attention_mask, past_k, past_v, n_heads: int):
        from .model import GPT

        B, S, dm = q.shape
        H, D = n_heads, dm // n_heads
        heads = lambda t: t.reshape(B, S, H, D).transpose(1, 2)  # noqa: E731
        keys = torch.cat([past_k, heads(k)], dim=2)
        values = torch.cat([past_v, heads(v)], dim=2)
        bias = GPT.attention_bias(attention_mask, S, past_k.shape[2])
        att = torch.softmax(torch.matmul(heads(q), keys.transpose(-1, -2)) * (1.0 / math.sqrt(D)) + bias, dim=-1)
        return torch.matmul(att, values).transpose(1, 2).reshape(B, S, dm), keys, values

    @staticmethod
    def symbolic(g, q, k, v, attention_mask, past_k, past_v, n_heads: int):
        mask32 = g.op("Cast", attention_mask, to_i=6)  # int32, as the kernel wants its key padding mask
        none = symbolic_helper._optional_input_placeholder_tensor(g)
        # Inputs: query, key, value, bias, key_padding_mask, attention_bias, past_key, past_value.
        return g.op("com.microsoft::MultiHeadAttention", q, k, v, none, mask32, none, past_k, past_v,
                    num_heads_i=n_heads, unidirectional_i=1, outputs=3)


def fused_attention(qkv: torch.Tensor, attention_mask: torch.Tensor, past_k, past_v, n_heads: int):
    """qkv [B, S, 3·d] (after the qkv projection) → (attention output [B, S, d], present K, present V)."""
    q, k, v = qkv.split(qkv.shape[-1] // 3, dim=-1)
    return FusedAttention.apply(q, k, v, attention_mask, past_k, past_v, n_heads)
