"""Small randomly-initialised bundles for the service's tests (test/fixtures/bundles/)."""
from __future__ import annotations

import copy
import os

import torch

from .bundle import write_bundle
from .model import GPT, ModelConfig
from .tokenizer import CharTokenizer

TINY = dict(d_model=32, n_layers=2, n_heads=2, d_ff=64, max_seq_len=256, init_std=0.4)


def tiny_models(seed: int = 0, perturb: float = 0.5):
    tok = CharTokenizer(model_max_length=256)
    cfg = ModelConfig(vocab_size=tok.vocab_size, **TINY)
    torch.manual_seed(seed)
    ref = GPT(cfg).eval()
    pol = copy.deepcopy(ref)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in pol.named_parameters():
            if p.dim() >= 2:  # perturb matrices and embeddings, keep norms' gains
                p.add_(torch.randn(p.shape, generator=g) * cfg.init_std * perturb)
    return tok, pol, ref


def make_test_bundles(out_root: str) -> None:
    tok, pol, ref = tiny_models()
    prov = {"training_data": "none (random initialisation, test fixture)", "loss": "none", "steps": 0, "seed": 0,
            "metrics": {}}
    # The plain ONNX form, as other exporters write it (no fused attention node, no new_key_values
    # outputs); and one bundle as the trainer exports by default, on the same weights.
    plain = dict(max_sequence_length=256, provenance=prov, fused_attention=False, new_kv_outputs=False)
    write_bundle(os.path.join(out_root, "tiny-logprobs"), "tiny-logprobs", pol, ref, tok, graph="logprobs", **plain)
    write_bundle(os.path.join(out_root, "tiny-logits"), "tiny-logits", pol, ref, tok, graph="logits", **plain)
    write_bundle(os.path.join(out_root, "tiny-ref-free"), "tiny-ref-free", pol, None, tok, graph="logprobs", **plain)
    write_bundle(os.path.join(out_root, "tiny-logprobs-fused"), "tiny-logprobs-fused", pol, ref, tok, graph="logprobs",
                 max_sequence_length=256, provenance=prov, fused_attention=True, new_kv_outputs=True)
