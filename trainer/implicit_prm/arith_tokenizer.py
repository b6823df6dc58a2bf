"""The arithmetic domain's tokenizer, trained with the `tokenizers` library the way real models'
tokenizers are: a BPE over pre-tokenized words, learned from domain text.

Pre-tokenization splits every digit, newline and symbol into its own piece (as Llama 3 and Qwen
split digits), so numbers are read digit by digit and a step boundary never falls inside a token:
the whole text tokenizes to the concatenation of its steps' tokens. Merges only join the letters of
words ("Problem", "Solution", "Answer") with their colon and space.
"""
from __future__ import annotations

import random

from .data import DomainConfig, correct_solution, random_problem, student_solution

PAD, UNK, EOS = "<pad>", "<unk>", "<eos>"
# newline + printable ASCII: every character a trace can hold has a token of its own
ALPHABET = ["\n"] + [chr(c) for c in range(32, 127)]
PIECES = r"[A-Za-z]+(?:: ?)?|\d|\s|[^\sA-Za-z\d]"


def corpus(n: int = 2000, seed: int = 0):
    rng, domain = random.Random(seed), DomainConfig()
    for _ in range(n):
        p = random_problem(rng, domain)
        steps = correct_solution(p) if rng.random() < 0.5 else student_solution(p, domain.student, rng)[0]
        yield f"Problem: {p.text}\nSolution:\n" + "\n".join(steps)


def train_tokenizer(model_max_length: int, vocab_size: int = 128):
    """A transformers fast tokenizer (save_pretrained writes tokenizer.json) made by `tokenizers`."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(PIECES), behavior="isolated")
    tok.decoder = decoders.Fuse()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, UNK, EOS], initial_alphabet=ALPHABET,
                                  show_progress=False)
    tok.train_from_iterator(corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=PAD, unk_token=UNK,
                                   model_max_length=model_max_length, clean_up_tokenization_spaces=False)
