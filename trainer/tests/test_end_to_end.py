"""Tiny end-to-end build: tokenizer → SFT → rollouts → CE/DPO → evaluation → import → golden.
The bundle's ONNX graphs, run by onnxruntime, reproduce the golden log-probs that transformers
computes from the committed-alongside checkpoints."""
import json
import random

import numpy as np
import pytest
import torch

from hf_models import Graph
from implicit_prm.arith_tokenizer import train_tokenizer
from implicit_prm.bundle import fingerprint
from implicit_prm.data import StudentConfig, correct_solution, random_problem, student_solution
from implicit_prm.lm import llama_config, new_model
from implicit_prm.pipeline import PRESETS, build
from implicit_prm.train import train_prm


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("e2e")
    out, work, golden = d / "bundle", d / "work", d / "golden.json"
    summary = build(PRESETS["test"], str(work), str(out), str(golden), "models/test", threads=1)
    return out, work, golden, summary


def test_bundle_is_an_imported_transformers_model(built):
    out, _, _, _ = built
    man = json.loads((out / "prm.json").read_text())
    assert man["format"] == "implicit-prm-bundle" and man["beta"] == PRESETS["test"].beta
    assert man["prompt_template"] == "Problem: {prompt}\nSolution:\n" and man["step_separator"] == "\n"
    assert man["append_eos"] is True and man["use_chat_template"] is False
    for role in ("policy", "reference"):
        assert man[role]["source_architecture"] == "LlamaForCausalLM" and man[role]["graph"] == "logprobs"
        assert (out / "transformers" / role / "model.safetensors").exists()
    assert man["fingerprint"] == fingerprint(str(out), man)
    assert man["provenance"]["transformers_checkpoints"] == {"policy": "transformers/policy", "reference": "transformers/reference"}
    for f in ("tokenizer.json", "tokenizer_config.json", "eval.json", "REPORT.md", "best_of_n.png"):
        assert (out / f).exists(), f


def test_report_has_every_method_and_set(built):
    ev = json.loads((built[0] / "eval.json").read_text())
    for meth in ("ce", "ce_ref_free", "reference"):
        m = ev["methods"][meth]
        assert {"own", "planted", "long", "threshold"} <= set(m)
        assert "best_of_8_pools" in m["planted"] and "by_kind" in m["planted"]
    assert [t["target"] for t in ev["targets"]][:2] == ["planted-error F1", "own-mistake F1"]
    assert "## Targets" in (built[0] / "REPORT.md").read_text()


def test_onnx_graphs_reproduce_the_transformers_golden(built):
    out, _, golden, _ = built
    g = json.loads(golden.read_text())
    assert g["bundle_dir"] == "models/test" and len(g["cases"]) >= 8
    for role, key in (("policy", "policy_logprobs"), ("reference", "reference_logprobs")):
        graph = Graph(str(out / f"{role}.onnx"))
        for c in g["cases"]:
            seq = sum(c["segment_ids"], [])
            got, _ = graph.run([seq])
            plen = len(c["segment_ids"][0])
            np.testing.assert_allclose(got[0, plen - 1:len(seq) - 1], c[key], atol=1e-5, rtol=0)


def test_dpo_and_reference_free_training_keep_the_reference_frozen():
    rng = random.Random(0)
    tok = train_tokenizer(128)
    rollouts = []
    for _ in range(4):
        p = random_problem(rng)
        rollouts.append({"problem": p.text, "steps": correct_solution(p), "correct": True})
        steps, _ = student_solution(p, StudentConfig(1.0, 1.0, 1.0), rng)
        rollouts.append({"problem": p.text, "steps": steps, "correct": steps == correct_solution(p)})
    cfg = llama_config(len(tok), hidden=16, layers=1, heads=2, kv_heads=1, intermediate=32, max_positions=128,
                       eos_id=tok.eos_token_id, pad_id=tok.pad_token_id)
    ref = new_model(cfg, 0).eval()
    before = {k: v.clone() for k, v in ref.state_dict().items()}
    pol, info = train_prm(ref, tok, rollouts, loss="dpo", epochs=1, batch_size=4, lr=1e-3, log=lambda *_: None)
    assert info["units"] > 0 and info["final_loss"] is not None
    assert all(torch.equal(before[k], v) for k, v in ref.state_dict().items()), "reference must stay frozen"
    assert any(not torch.equal(before[k], v) for k, v in pol.state_dict().items()), "the policy must move"
    _, info2 = train_prm(ref, tok, rollouts, loss="ce", reference_free=True, epochs=1, batch_size=4, lr=1e-3,
                         log=lambda *_: None)
    assert info2["reference_free"]
