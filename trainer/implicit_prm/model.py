"""A small decoder-only transformer (pre-LN, learned absolute positions) with a KV cache.

Design choices that matter for the ONNX export (ARCHITECTURE.md §2):
* positions come only from `position_ids`, and attention is "new token s attends key j iff
  j <= P + s and attention_mask[b, j] = 1", so right padding and padded pasts are harmless;
* masking adds a large negative number (-1e9), never -inf, so fully masked rows give no NaN;
* linear weights are stored [in, out] and used with matmul, so the exported ONNX initializers carry
  exactly the state_dict names (no transposes get constant-folded into anonymous tensors); the
  `score` command rebuilds the torch model from those initializers.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .fused_attention import fused_attention as fused_attention_node

NEG = -1e9


@dataclass
class ModelConfig:
    vocab_size: int = 99
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 512
    max_seq_len: int = 256
    init_std: float = 0.02

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class Linear(nn.Module):
    """y = x @ W + b with W stored [in, out] (see module docstring)."""

    def __init__(self, n_in: int, n_out: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out)) if bias else None

    def forward(self, x):
        y = torch.matmul(x, self.weight)
        if self.bias is not None:
            y = y + self.bias
        return y


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.head_dim = cfg.head_dim
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.fc1 = Linear(cfg.d_model, cfg.d_ff)
        self.fc2 = Linear(cfg.d_ff, cfg.d_model)

    def forward(self, x, bias, past_k, past_v, fused_mask=None):
        """`fused_mask` (the attention_mask, export only): attention as one fused onnxruntime node."""
        B, S = x.shape[0], x.shape[1]
        H, D = self.n_heads, self.head_dim
        h = self.ln1(x)
        if fused_mask is not None:
            # Its own return, so the plain path below traces exactly as before (byte-identical exports).
            y, k, v = fused_attention_node(self.qkv(h), fused_mask, past_k, past_v, H)
            x = x + self.proj(y)
            x = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
            return x, k, v
        qkv = self.qkv(h).reshape(B, S, 3, H, D).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [B,H,S,D]
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        att = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(D)) + bias  # [B,H,S,T]
        att = torch.softmax(att, dim=-1)
        y = torch.matmul(att, v).transpose(1, 2).reshape(B, S, H * D)
        x = x + self.proj(y)
        x = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
        return x, k, v


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = nn.Embedding(cfg.max_seq_len, cfg.d_model)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.reset_parameters(cfg.init_std)

    def reset_parameters(self, std: float):
        for mod in self.modules():
            if isinstance(mod, nn.LayerNorm):
                nn.init.ones_(mod.weight)
                nn.init.zeros_(mod.bias)
            elif isinstance(mod, (Linear, nn.Embedding)):
                nn.init.normal_(mod.weight, 0.0, std)
                if getattr(mod, "bias", None) is not None:
                    nn.init.zeros_(mod.bias)
        # residual projections scaled down (GPT-2)
        for b in self.blocks:
            nn.init.normal_(b.proj.weight, 0.0, std / math.sqrt(2 * self.cfg.n_layers))
            nn.init.normal_(b.fc2.weight, 0.0, std / math.sqrt(2 * self.cfg.n_layers))

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @staticmethod
    def attention_bias(attention_mask: torch.Tensor, S: int, P) -> torch.Tensor:
        """[B,1,S,P+S] additive bias: 0 where key j <= P+s and attention_mask[b,j]==1, else -1e9."""
        T = attention_mask.shape[1]
        key_pos = torch.arange(T, device=attention_mask.device)
        q_pos = torch.arange(S, device=attention_mask.device) + P
        causal = key_pos.unsqueeze(0) <= q_pos.unsqueeze(1)  # [S,T]
        allowed = causal.unsqueeze(0).unsqueeze(0) & (attention_mask.unsqueeze(1).unsqueeze(2) > 0)
        return (1.0 - allowed.to(torch.float32)) * NEG

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        position_ids: Optional[torch.Tensor] = None,
        past: Optional[List[Tuple[torch.Tensor, torch.Tensor]]] = None,
        use_cache: bool = False,
        fused_attention: bool = False,
    ):
        """Returns logits [B,S,V] and (if use_cache or past given) the present KV list.
        `fused_attention` (ONNX export only, needs `past`): see fused_attention.py."""
        B, S = input_ids.shape[0], input_ids.shape[1]
        P = past[0][0].shape[2] if past is not None else 0
        if attention_mask is None:
            attention_mask = torch.ones(B, P + S, dtype=torch.long, device=input_ids.device)
        if position_ids is None:
            position_ids = (torch.arange(S, device=input_ids.device) + P).unsqueeze(0).expand(B, S)
        x = self.tok_emb(input_ids) + self.pos_emb(position_ids)
        bias = None if fused_attention else self.attention_bias(attention_mask, S, P)
        presents = []
        for i, blk in enumerate(self.blocks):
            pk, pv = (past[i] if past is not None else (None, None))
            x, k, v = blk(x, bias, pk, pv, attention_mask if fused_attention else None)
            presents.append((k, v))
        logits = self.head(self.ln_f(x))
        if use_cache or past is not None:
            return logits, presents
        return logits

    def empty_past(self, batch: int, device=None):
        c = self.cfg
        z = torch.zeros(batch, c.n_heads, 0, c.head_dim, device=device)
        return [(z, z) for _ in range(c.n_layers)]


def save_checkpoint(path: str, model: GPT, extra: dict = None) -> None:
    torch.save({"config": model.cfg.to_dict(), "state_dict": model.state_dict(), "extra": extra or {}}, path)


def load_checkpoint(path: str) -> Tuple[GPT, dict]:
    ck = torch.load(path, map_location="cpu")
    model = GPT(ModelConfig.from_dict(ck["config"]))
    model.load_state_dict(ck["state_dict"])
    model.eval()
    return model, ck.get("extra", {})

