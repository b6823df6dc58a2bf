"""The committed golden fixtures stay valid on the installed torch: recomputed from the committed
bundles (weights rebuilt from their ONNX initializers), every token log-prob and step reward agrees
with the file within 5e-5. The fixtures were written by an older torch whose BLAS rounds
differently (the largest difference seen with torch 2.15 is 1.7e-5); the service's parity tests
compare onnxruntime against the same files, so a torch that moved further would show here first."""
import json
import os

import pytest

from implicit_prm.golden import make_golden

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(ROOT, "test", "fixtures", "golden")
TOLERANCE = 5e-5


def _fixtures():
    return sorted(f[:-5] for f in os.listdir(GOLDEN) if f.endswith(".json"))


def _max_difference(committed, recomputed):
    worst = 0.0
    for a, b in zip(committed["cases"], recomputed["cases"]):
        assert a["segment_ids"] == b["segment_ids"], a["id"]
        for key in ("policy_logprobs", "reference_logprobs", "q", "step_rewards"):
            if a[key] is None:
                assert b[key] is None
                continue
            assert len(a[key]) == len(b[key]), (a["id"], key)
            worst = max(worst, max(abs(x - y) for x, y in zip(a[key], b[key])))
    return worst


@pytest.mark.parametrize("name", _fixtures())
def test_committed_golden_reproduced(name):
    committed = json.load(open(os.path.join(GOLDEN, name + ".json")))
    cases = [{"id": c["id"], "prompt": c["prompt"], "steps": c["steps"]} for c in committed["cases"]]
    recomputed = make_golden(os.path.join(ROOT, committed["bundle_dir"]), cases=cases)
    assert recomputed["fingerprint"] == committed["fingerprint"]
    assert len(recomputed["cases"]) == len(committed["cases"])
    assert _max_difference(committed, recomputed) <= TOLERANCE
