"""Tiny end-to-end run: data → sft → sample → train → evaluate → export → golden; checks the bundle."""
import json
import os
import random

import onnx
import pytest
import torch

from implicit_prm import constants as C
from implicit_prm.bundle import fingerprint, input_names, load_bundle, output_names
from implicit_prm.data import correct_solution, random_problem, student_solution, StudentConfig
from implicit_prm.pipeline import PRESETS, build
from implicit_prm.scorecmd import run_score
from implicit_prm.train import train_prm
from implicit_prm.model import GPT, ModelConfig
from implicit_prm.tokenizer import CharTokenizer


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("e2e")
    out, work, golden = d / "bundle", d / "work", d / "golden.json"
    summary = build(PRESETS["test"], str(work), str(out), str(golden), "models/test", threads=1)
    return out, work, golden, summary


def test_bundle_manifest_matches_design(built):
    out, work, golden, summary = built
    man = json.loads((out / "prm.json").read_text())
    for k in ("format", "format_version", "name", "beta", "policy", "reference", "tokenizer", "step_separator",
              "prompt_template", "use_chat_template", "append_eos", "max_sequence_length", "provenance", "fingerprint"):
        assert k in man, k
    assert man["format"] == "implicit-prm-bundle" and man["format_version"] == 1
    assert man["beta"] == 0.05 and "{prompt}" in man["prompt_template"]
    for role in ("policy", "reference"):
        e = man[role]
        for k in ("onnx", "graph", "num_layers", "num_heads", "head_dim", "vocab_size"):
            assert k in e
        assert e["graph"] == "logprobs"
        assert (out / e["onnx"]).exists()
    assert man["fingerprint"].startswith("sha256:") and len(man["fingerprint"]) == 7 + 64
    assert man["fingerprint"] == fingerprint(str(out), man)
    for k in ("training_data", "loss", "steps", "seed", "metrics"):
        assert k in man["provenance"]
    for f in ("tokenizer.json", "tokenizer_config.json", "eval.json", "REPORT.md", "best_of_n.png"):
        assert (out / f).exists(), f


def test_graphs_pass_checker_and_have_the_interface(built):
    out = built[0]
    man = json.loads((out / "prm.json").read_text())
    L = man["policy"]["num_layers"]
    for fn in ("policy.onnx", "reference.onnx"):
        m = onnx.load(str(out / fn))
        onnx.checker.check_model(m)
        assert m.opset_import[0].version >= 14
        assert [i.name for i in m.graph.input] == input_names(L, "logprobs")
        assert [o.name for o in m.graph.output] == output_names(L, "logprobs", new_kv_outputs=True)
        dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in m.graph.input}
        assert isinstance(dims["input_ids"][0], str) and isinstance(dims["input_ids"][1], str)
        assert isinstance(dims["past_key_values.0.key"][2], str)


def test_eval_json_keys(built):
    ev = json.loads((built[0] / "eval.json").read_text())
    assert "f1" in ev["processbench"]
    assert "pass_at_1" in ev["best_of_n"]
    assert "4" in ev["best_of_n"]["min"] and "4" in ev["best_of_n"]["majority"]
    for meth in ("ce", "ce_ref_free", "reference"):
        assert meth in ev["methods"]


def test_golden_and_score_agree(built, tmp_path):
    out, work, golden, _ = built
    g = json.loads(golden.read_text())
    assert g["bundle_dir"] == "models/test" and len(g["cases"]) >= 8
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"id": c["id"], "prompt": c["prompt"], "steps": c["steps"]}) + "\n" for c in g["cases"]))
    res_path = tmp_path / "res.jsonl"
    summary = run_score(str(out), str(items), str(res_path), threads=1, batch_size=4, warmup_batches=1)
    assert summary["items"] == len(g["cases"]) and summary["tokens"] > 0
    # Warm-up passes are not counted: the tokens are the items' own, once each.
    assert summary["warmup_batches"] == 1 and summary["tokens"] == sum(sum(len(s) for s in c["segment_ids"]) for c in g["cases"])
    res = [json.loads(l) for l in res_path.read_text().splitlines()]
    for c, r in zip(g["cases"], res):
        assert r["id"] == c["id"]
        assert r["tokens"] == sum(len(s) for s in c["segment_ids"])
        for a, b in zip(r["q"], c["q"]):
            assert abs(a - b) < 1e-4
        assert abs(r["outcome_reward"] - c["outcome_reward"]) < 1e-4


def test_dpo_and_reference_free_training_run():
    rng = random.Random(0)
    tok = CharTokenizer()
    rollouts = []
    for _ in range(4):
        p = random_problem(rng)
        rollouts.append({"problem": p.text, "steps": correct_solution(p), "correct": True})
        steps, _ = student_solution(p, StudentConfig(1.0, 1.0, 1.0), rng)
        rollouts.append({"problem": p.text, "steps": steps, "correct": steps == correct_solution(p)})
    torch.manual_seed(0)
    ref = GPT(ModelConfig(vocab_size=tok.vocab_size, d_model=16, n_layers=1, n_heads=2, d_ff=32, max_seq_len=128)).eval()
    before = {k: v.clone() for k, v in ref.state_dict().items()}
    pol, info = train_prm(ref, tok, rollouts, loss="dpo", epochs=1, batch_size=4, lr=1e-3, log=lambda *_: None)
    assert info["units"] > 0 and info["final_loss"] is not None
    assert all(torch.equal(before[k], v) for k, v in ref.state_dict().items()), "reference must stay frozen"
    pol2, info2 = train_prm(ref, tok, rollouts, loss="ce", reference_free=True, epochs=1, batch_size=4, lr=1e-3,
                            log=lambda *_: None)
    assert info2["reference_free"]
