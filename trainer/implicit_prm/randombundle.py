"""Randomly initialised bundles of a requested size (throughput benchmarks; not committed)."""
from __future__ import annotations

import copy
import re

import torch

from .bundle import write_bundle
from .model import GPT, ModelConfig
from .tokenizer import CharTokenizer


def parse_params(s: str) -> int:
    m = re.fullmatch(r"\s*([0-9.]+)\s*([kKmMgGbB]?)\s*", s)
    if not m:
        raise ValueError(f"bad parameter count {s!r} (e.g. 30M, 800k)")
    mult = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def config_for_params(target: int, vocab_size: int, max_seq_len: int = 512) -> ModelConfig:
    d = 128 if target < 2e6 else 256 if target < 8e6 else 512 if target < 60e6 else 768
    per_layer = 12 * d * d + 13 * d
    fixed = vocab_size * d * 2 + max_seq_len * d + 2 * d
    L = max(1, round((target - fixed) / per_layer))
    return ModelConfig(vocab_size=vocab_size, d_model=d, n_layers=L, n_heads=max(1, d // 64), d_ff=4 * d,
                       max_seq_len=max_seq_len, init_std=0.02)


def export_random(out_dir: str, params: str = "30M", graph: str = "logprobs", reference_free: bool = False,
                  max_sequence_length: int = 512, seed: int = 0, name: str = None, fused_attention: bool = True) -> dict:
    tok = CharTokenizer(model_max_length=max_sequence_length)
    cfg = config_for_params(parse_params(params), tok.vocab_size, max_sequence_length)
    torch.manual_seed(seed)
    ref = GPT(cfg).eval()
    pol = copy.deepcopy(ref)
    with torch.no_grad():
        for p in pol.parameters():
            if p.dim() >= 2:
                p.add_(torch.randn_like(p) * cfg.init_std * 0.3)
    name = name or f"random-{params}"
    man = write_bundle(out_dir, name, pol, None if reference_free else ref, tok, graph=graph,
                       max_sequence_length=max_sequence_length, fused_attention=fused_attention,
                       provenance={"training_data": "none (random initialisation, benchmark bundle)", "loss": "none",
                                   "steps": 0, "seed": seed, "metrics": {"parameters": pol.num_params()}})
    return {"name": name, "parameters": pol.num_params(), "config": cfg.to_dict(), "fingerprint": man["fingerprint"]}
