import json

from implicit_prm import constants as C
from implicit_prm.scoring import segment
from implicit_prm.tokenizer import CharTokenizer


def test_char_tokenizer_roundtrip_and_unk(tmp_path):
    tok = CharTokenizer()
    ids = tok.encode("12+7=19\nAnswer: 19")
    assert len(ids) == len("12+7=19\nAnswer: 19")
    assert tok.decode(ids) == "12+7=19\nAnswer: 19"
    assert tok.encode("a×b") == [tok.vocab["a"], tok.unk_id, tok.vocab["b"]]
    assert tok.encode("x<eos>") == [tok.vocab["x"], tok.eos_id]
    tok.save(str(tmp_path))
    tj = json.loads((tmp_path / "tokenizer.json").read_text())
    assert tj["model"]["type"] == "BPE" and tj["model"]["merges"] == []
    assert [t["content"] for t in tj["added_tokens"]] == ["<pad>", "<unk>", "<eos>"]
    cfg = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert cfg["eos_token"] == "<eos>" and cfg["pad_token"] == "<pad>" and cfg["unk_token"] == "<unk>"
    assert CharTokenizer.load(str(tmp_path)).vocab == tok.vocab


def test_segments_are_prefix_stable():
    tok = CharTokenizer()
    steps = ["12+7=19", "19*2=38", "Answer: 38"]
    segs = segment(tok, C.TEXT_FORMAT, "12+7*2", steps)
    assert tok.decode(segs[0]) == "Problem: 12+7*2\nSolution:\n"
    assert segs[1][-1] == tok.vocab["\n"] and segs[-1][-1] == tok.eos_id
    segs2 = segment(tok, C.TEXT_FORMAT, "12+7*2", steps[:2])
    assert segs2[1] == segs[1]
