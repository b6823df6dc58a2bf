"""A policy tokenizer for the verl tests: a real Hugging Face fast tokenizer (byte-level BPE, as
GPT-2, Llama 3 and Qwen use), trained here in memory on arithmetic text, so its tokens span
several characters and step ends fall inside tokens, as with a real policy. Needs transformers
(the trainer environment has it)."""
import random


def arithmetic_corpus(n=400, seed=0):
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        a, b, c = rng.randint(10, 99), rng.randint(10, 99), rng.randint(2, 9)
        lines.append(f"{a}+{b}={a + b}\n{a + b}-{c}={a + b - c}\nAnswer: {a + b - c}")
    return lines


def policy_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "<eos>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(arithmetic_corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>")
