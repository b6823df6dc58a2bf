"""The arithmetic tokenizer, trained by the tokenizers library: digits one token each, words one
token, and no token crossing a step boundary, so the whole text's tokens are the steps' tokens
joined (the service's whole-text tokenization and per-step cuts agree)."""
import random

from implicit_prm.arith_tokenizer import train_tokenizer
from implicit_prm.data import DomainConfig, random_problem, student_solution


def test_words_merge_digits_stay_single():
    tok = train_tokenizer(256)
    ids = tok("Problem: 48+27\nSolution:\nAnswer: 75", add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == ["Problem: ", "4", "8", "+", "2", "7", "\n", "Solution:", "\n", "Answer: ", "7", "5"]
    assert tok.decode(ids) == "Problem: 48+27\nSolution:\nAnswer: 75"


def test_whole_text_is_the_concatenation_of_its_steps():
    tok = train_tokenizer(256)
    enc = lambda s: tok(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    rng = random.Random(0)
    for _ in range(200):
        p = random_problem(rng, DomainConfig())
        steps, _ = student_solution(p, DomainConfig().student, rng)
        parts = [f"Problem: {p.text}\nSolution:\n"] + [s + "\n" for s in steps[:-1]] + [steps[-1]]
        assert enc("".join(parts)) == sum((enc(x) for x in parts), [])


def test_unknown_characters_become_unk_one_each():
    tok = train_tokenizer(256)
    ids = tok("48×2 ✓", add_special_tokens=False)["input_ids"]
    assert ids.count(tok.unk_token_id) == 2
