"""Character-level tokenizer, written as a Hugging Face tokenizer.json (model type BPE, a vocab of
single characters, no merges), so that @huggingface/tokenizers encodes one id per character.

Python side: `CharTokenizer.encode` mirrors what tokenizers.js does for this file: special tokens
appearing literally in the text are split out first (as added tokens), every other code point maps
to its id or to <unk> (fuse_unk is false: one <unk> per unknown character).
"""
from __future__ import annotations

import json
import os
import re
from typing import Dict, List

PAD, UNK, EOS = "<pad>", "<unk>", "<eos>"
SPECIALS = [PAD, UNK, EOS]
# newline + printable ASCII (space .. ~)
CHARS = ["\n"] + [chr(c) for c in range(32, 127)]


class CharTokenizer:
    def __init__(self, chars: List[str] = None, model_max_length: int = 512):
        chars = CHARS if chars is None else chars
        self.id_to_token: List[str] = SPECIALS + list(chars)
        self.vocab: Dict[str, int] = {t: i for i, t in enumerate(self.id_to_token)}
        assert len(self.vocab) == len(self.id_to_token), "duplicate tokens"
        self.pad_id = self.vocab[PAD]
        self.unk_id = self.vocab[UNK]
        self.eos_id = self.vocab[EOS]
        self.model_max_length = model_max_length
        self._special_re = re.compile("(" + "|".join(re.escape(s) for s in sorted(SPECIALS, key=len, reverse=True)) + ")")

    @property
    def vocab_size(self) -> int:
        return len(self.id_to_token)

    def encode(self, text: str) -> List[int]:
        ids: List[int] = []
        for part in self._special_re.split(text):
            if not part:
                continue
            if part in SPECIALS:
                ids.append(self.vocab[part])
                continue
            for ch in part:  # code points, like Array.from(str) in JS
                ids.append(self.vocab.get(ch, self.unk_id))
        return ids

    def decode(self, ids, skip_special: bool = True) -> str:
        out = []
        for i in ids:
            t = self.id_to_token[int(i)] if 0 <= int(i) < len(self.id_to_token) else UNK
            if skip_special and t in SPECIALS:
                continue
            out.append(t)
        return "".join(out)

    # ---- Hugging Face files -------------------------------------------------------------
    def tokenizer_json(self) -> dict:
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [
                {"id": self.vocab[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": False, "special": True}
                for s in SPECIALS
            ],
            "normalizer": None,
            "pre_tokenizer": None,
            "post_processor": None,
            "decoder": {"type": "Fuse"},
            "model": {
                "type": "BPE",
                "dropout": None,
                "unk_token": UNK,
                "continuing_subword_prefix": None,
                "end_of_word_suffix": None,
                "fuse_unk": False,
                "byte_fallback": False,
                "ignore_merges": False,
                "vocab": dict(self.vocab),
                "merges": [],
            },
        }

    def tokenizer_config(self) -> dict:
        return {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": None,
            "eos_token": EOS,
            "pad_token": PAD,
            "unk_token": UNK,
            "model_max_length": self.model_max_length,
            "clean_up_tokenization_spaces": False,
            "added_tokens_decoder": {
                str(self.vocab[s]): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                                     "single_word": False, "special": True}
                for s in SPECIALS
            },
        }

    def save(self, directory: str) -> None:
        """Writes tokenizer.json and tokenizer_config.json (deterministic bytes)."""
        with open(os.path.join(directory, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(self.tokenizer_json(), f, ensure_ascii=False, indent=2)
            f.write("\n")
        with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(self.tokenizer_config(), f, ensure_ascii=False, indent=2)
            f.write("\n")

    @classmethod
    def load(cls, directory: str) -> "CharTokenizer":
        with open(os.path.join(directory, "tokenizer.json"), encoding="utf-8") as f:
            tj = json.load(f)
        vocab = tj["model"]["vocab"]
        ordered = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
        assert ordered[: len(SPECIALS)] == SPECIALS, "unexpected special token layout"
        cfg_path = os.path.join(directory, "tokenizer_config.json")
        mml = 512
        if os.path.exists(cfg_path):
            with open(cfg_path, encoding="utf-8") as f:
                mml = json.load(f).get("model_max_length", 512)
        return cls(ordered[len(SPECIALS):], model_max_length=mml)
