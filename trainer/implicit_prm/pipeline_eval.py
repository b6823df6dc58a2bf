"""The build's evaluation: the held-out check that selects training steps, and the final report's
numbers for every method on every trace set (evaluate.py has the metrics)."""
from __future__ import annotations

from typing import Dict, List

import numpy as np

from .evaluate import (METHODS, encode_traces, evaluate_set, method_values, planted_traces, processbench,
                       sampled_traces, step_ends_of, token_logprobs_of, tune_threshold)

# The report's targets: (name, how it is read from the summary, bound).
TARGETS = (
    ("planted-error F1", lambda m: m["planted"]["processbench"]["f1"], 0.85),
    ("own-mistake F1", lambda m: m["own"]["processbench"]["f1"], 0.85),
    ("best-of-8 pools (1 right + 7 planted) by min step reward", lambda m: m["planted"]["best_of_8_pools"]["min"], 0.85),
    ("right traces with σ(q_n) > 0.5 (the reference's right samples)",
     lambda m: m["own"]["calibration"]["right_above_half"], 0.80),
    ("7–8-operation chains F1 (own mistakes and planted errors)", lambda m: m["long"]["processbench"]["f1"], 0.60),
)


def validation_traces(problems, sampled, seed: int) -> List[dict]:
    return sampled_traces(problems, sampled) + planted_traces(problems, seed)


def validation_score(reference, tok, problems, sampled, preset):
    """policy → mean of own-mistake and planted-error F1 on validation traces (one τ tuned on them)."""
    traces = validation_traces(problems, sampled, preset.seed + 55)
    encoded = encode_traces(tok, traces)
    ends, ref_lp = step_ends_of(encoded), token_logprobs_of(reference, encoded, tok.pad_token_id)
    own = [i for i, t in enumerate(traces) if t["source"] == "sampled"]
    planted = [i for i, t in enumerate(traces) if t["source"] == "planted"]

    def score(policy) -> float:
        values = method_values({"ce": token_logprobs_of(policy, encoded, tok.pad_token_id), "reference": ref_lp}, ends, preset.beta)["ce"]
        qs = [q for q, _ in values]
        tau = tune_threshold(traces, qs)
        return float(np.mean([processbench([traces[i] for i in idx], [qs[i] for i in idx], tau)["f1"]
                              for idx in (own, planted)]))
    return score


def trace_sets(sets, eval_samples, seed: int) -> Dict[str, List[dict]]:
    long_own = sampled_traces(sets["long"], eval_samples["long"])
    long_planted = planted_traces(sets["long"], seed + 77)
    return {"val": validation_traces(sets["val"], eval_samples["val"], seed + 55),
            "own": sampled_traces(sets["test"], eval_samples["test"]),
            "planted": planted_traces(sets["test"], seed + 66),
            "long": long_own + [dict(t, pid=t["pid"] + len(sets["long"])) for t in long_planted]}


def evaluate_all(models: dict, tok, sets, eval_samples, preset, log=print) -> dict:
    traces = trace_sets(sets, eval_samples, preset.seed)
    values = {}
    for name, ts in traces.items():
        encoded = encode_traces(tok, ts)
        lps = {m: token_logprobs_of(model, encoded, tok.pad_token_id) for m, model in models.items()}
        values[name] = method_values(lps, step_ends_of(encoded), preset.beta)
    out = {"methods": {}}
    for meth in METHODS:
        if meth not in values["val"]:
            continue
        tau = tune_threshold(traces["val"], [q for q, _ in values["val"][meth]])
        res = {"threshold": tau}
        for name in ("own", "planted", "long"):
            res[name] = evaluate_set(traces[name], values[name][meth], tau, pools=name == "planted")
        out["methods"][meth] = res
        log(f"{meth}: τ={tau:.3f} own F1 {res['own']['processbench']['f1']:.3f}, planted F1 "
            f"{res['planted']['processbench']['f1']:.3f}, long F1 {res['long']['processbench']['f1']:.3f}, "
            f"pools {res['planted']['best_of_8_pools']['min']:.3f}, right σ>0.5 "
            f"{res['own']['calibration']['right_above_half']}")
    out["targets"] = targets(out["methods"]["ce"])
    out["counts"] = {name: {"traces": len(ts), "wrong": sum(t["first_error"] >= 0 for t in ts)} for name, ts in traces.items()}
    return out


def targets(ce: dict) -> List[dict]:
    rows = [{"target": name, "value": read(ce), "bound": bound, "reached": read(ce) is not None and read(ce) >= bound}
            for name, read, bound in TARGETS]
    bon = ce["own"]["best_of_n"]
    if "16" in bon["min"]:
        m16, maj, p1 = bon["min"]["16"], bon["majority"]["16"], bon["pass_at_1"]["1"]
        rows.append({"target": "best-of-16 by min step reward ≥ majority vote + 10 points", "value": m16,
                     "bound": maj + 0.10, "reached": m16 >= maj + 0.10})
        rows.append({"target": "best-of-16 by min step reward ≥ pass@1 + 10 points", "value": m16,
                     "bound": p1 + 0.10, "reached": m16 >= p1 + 0.10})
    return rows
