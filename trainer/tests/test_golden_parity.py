"""The committed golden fixtures stay valid on the installed torch: recomputed from the committed
bundles (weights rebuilt from their ONNX initializers), every token log-prob and step reward agrees
with the file within 5e-5. The fixtures were written by an older torch, or on another CPU, whose
BLAS rounds differently (the largest difference seen with torch 2.15 is 1.7e-5, on AVX2 and on
AVX-512 machines alike); the service's parity tests compare onnxruntime against the same files, so
a torch that moved further would show here first. q and the step rewards are β times sums of
per-token log-ratios, so their differences add up over the tokens: they are held to the bound that
the per-token one implies, β × (tokens in the trace) × 2 × 5e-5 (policy and reference each)."""
import json
import os

import pytest

from implicit_prm.golden import make_golden

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(ROOT, "test", "fixtures", "golden")
TOLERANCE = 5e-5


def _fixtures():
    return sorted(f[:-5] for f in os.listdir(GOLDEN) if f.endswith(".json"))


def _excess(committed, recomputed):
    """The largest difference of any value divided by its bound (≤ 1 passes)."""
    worst = 0.0
    for a, b in zip(committed["cases"], recomputed["cases"]):
        assert a["segment_ids"] == b["segment_ids"], a["id"]
        summed_bound = committed["beta"] * len(a["policy_logprobs"]) * 2 * TOLERANCE
        bounds = {"policy_logprobs": TOLERANCE, "reference_logprobs": TOLERANCE, "q": summed_bound, "step_rewards": summed_bound}
        for key, bound in bounds.items():
            if a[key] is None:
                assert b[key] is None
                continue
            assert len(a[key]) == len(b[key]), (a["id"], key)
            worst = max(worst, max(abs(x - y) for x, y in zip(a[key], b[key])) / bound)
    return worst


@pytest.mark.parametrize("name", _fixtures())
def test_committed_golden_reproduced(name):
    committed = json.load(open(os.path.join(GOLDEN, name + ".json")))
    cases = [{"id": c["id"], "prompt": c["prompt"], "steps": c["steps"]} for c in committed["cases"]]
    recomputed = make_golden(os.path.join(ROOT, committed["bundle_dir"]), cases=cases)
    assert recomputed["fingerprint"] == committed["fingerprint"]
    assert len(recomputed["cases"]) == len(committed["cases"])
    assert _excess(committed, recomputed) <= 1
