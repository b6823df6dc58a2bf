"""`random-hf`: randomly initialised transformers checkpoints of a requested size (Llama
architecture, grouped-query attention) with the arithmetic domain's tokenizer, for the benchmark:
the policy is the reference plus small noise, as a fine-tuned model is. Importing them with
`import` gives a bundle made exactly the way a user's own models become one."""
from __future__ import annotations

import json
import os

import torch

from .randombundle import parse_params
from .tokenizer import CharTokenizer


def llama_config(target: int, vocab_size: int, max_positions: int):
    """Width by size, MLP 3× wide (gated: 9·d² per layer, the attention 3·d² with half as many KV
    heads), and as many layers as the target allows — the shape of small Llama-family models."""
    from transformers import LlamaConfig

    d = 128 if target < 2e6 else 256 if target < 8e6 else 512 if target < 60e6 else 768
    heads = max(1, d // 64)
    per_layer = 12 * d * d + 2 * d
    layers = max(1, round((target - 2 * vocab_size * d) / per_layer))
    return LlamaConfig(vocab_size=vocab_size, hidden_size=d, intermediate_size=3 * d, num_hidden_layers=layers,
                       num_attention_heads=heads, num_key_value_heads=max(1, heads // 2),
                       max_position_embeddings=max_positions, tie_word_embeddings=False)


def arith_tokenizer(model_max_length: int):
    """The arithmetic domain's character tokenizer as a transformers fast tokenizer."""
    import tempfile

    from transformers import PreTrainedTokenizerFast

    with tempfile.TemporaryDirectory() as d:
        CharTokenizer(model_max_length=model_max_length).save(d)
        with open(os.path.join(d, "tokenizer_config.json"), encoding="utf-8") as f:
            config = json.load(f)
        return PreTrainedTokenizerFast(tokenizer_file=os.path.join(d, "tokenizer.json"), eos_token=config["eos_token"],
                                       pad_token=config["pad_token"], unk_token=config["unk_token"],
                                       model_max_length=model_max_length)


def make_random_checkpoints(out_root: str, params: str = "30M", max_positions: int = 1024, seed: int = 0) -> dict:
    """Writes `<out_root>/policy` and `<out_root>/reference` with save_pretrained."""
    from transformers import LlamaForCausalLM

    tok = arith_tokenizer(max_positions)
    cfg = llama_config(parse_params(params), len(tok), max_positions)
    torch.manual_seed(seed)
    reference = LlamaForCausalLM(cfg).eval()
    policy = LlamaForCausalLM(cfg).eval()
    policy.load_state_dict(reference.state_dict())
    with torch.no_grad():
        for p in policy.parameters():
            if p.dim() >= 2:
                p.add_(torch.randn_like(p) * cfg.initializer_range * 0.3)
    for role, model in (("policy", policy), ("reference", reference)):
        model.save_pretrained(os.path.join(out_root, role))
        tok.save_pretrained(os.path.join(out_root, role))
    return {"parameters": sum(p.numel() for p in policy.parameters()), "config": cfg.to_dict()}
