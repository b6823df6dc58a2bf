"""Evaluation on held-out problems, on two kinds of erroneous trace:

* own mistakes: fresh samples of the reference (the errors the PRM's training data holds);
* planted errors: a right solution with one mistake of a known kind at a known step (mistakes.py),
  including kinds the reference never makes — errors the model did not make itself.

Methods (each gives q_k per step of every trace):
  ce           CE-trained policy vs reference          q_k = β Σ (log πφ − log πref)
  dpo          DPO-trained policy vs reference
  ce_ref_free  CE-trained policy scored reference-free q_k = β Σ log πφ
  reference    the untrained reference alone           q_k = β Σ log πref   (no-training baseline)

First-error detection (ProcessBench-style): the predicted first error is the first step with
σ(q_k) < τ, τ tuned per method on validation traces only; F1 = harmonic mean of the accuracy on
wrong traces (predicted step == true first wrong step) and on right ones (no step flagged).
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .data import Problem, check, correct_solution
from .lm import encode_trace, response_logprobs
from .mistakes import HELD_OUT_KINDS, planted_errors
from .scoring import step_q

METHODS = {"ce": ("ce", "reference"), "dpo": ("dpo", "reference"), "ce_ref_free": ("ce", None),
           "reference": ("reference", None)}
METHOD_TITLES = {"ce": "CE (implicit PRM)", "dpo": "DPO (implicit PRM)", "ce_ref_free": "CE, scored reference-free",
                 "reference": "Reference log-prob (no training)"}


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0


# ---- traces --------------------------------------------------------------------------------
def sampled_traces(problems: Sequence[Problem], sampled, offset: int = 0) -> List[dict]:
    """The reference's samples, labelled by the checker (`pid`: the problem's index)."""
    out = []
    for pi, (p, rs) in enumerate(zip(problems, sampled)):
        for r in rs:
            steps = r["steps"] if r["steps"] else ["Answer:"]
            ch = check(p, steps)
            out.append({"problem": p.text, "pid": offset + pi, "ops": len(p.ops), "steps": steps,
                        "correct": bool(ch.correct and r["finished"]), "first_error": ch.first_error,
                        "answer": ch.answer, "source": "sampled"})
    return out


def planted_traces(problems: Sequence[Problem], seed: int) -> List[dict]:
    """Per problem its right solution and one trace per mistake kind that applies to it."""
    rng, out = random.Random(seed), []
    for pi, p in enumerate(problems):
        out.append({"problem": p.text, "pid": pi, "ops": len(p.ops), "steps": correct_solution(p), "correct": True,
                    "first_error": -1, "kind": None, "position": None, "source": "planted"})
        for e in planted_errors(p, rng):
            out.append({"problem": p.text, "pid": pi, "ops": len(p.ops), "steps": e["steps"], "correct": False,
                        "first_error": e["first_error"], "kind": e["kind"], "position": e["position"],
                        "source": "planted"})
    return out


# ---- scoring ------------------------------------------------------------------------------------
def encode_traces(tok, traces: Sequence[dict]) -> List[Tuple[List[int], int, List[int]]]:
    """Each trace's (ids, prompt length, step ends), tokenized once for every model that scores it."""
    return [encode_trace(tok, t["problem"], t["steps"]) for t in traces]


def token_logprobs_of(model, encoded, pad_id: int) -> List[np.ndarray]:
    return [lp.numpy() for lp in response_logprobs(model, [(ids, plen) for ids, plen, _ in encoded], pad_id)]


def step_ends_of(encoded) -> List[List[int]]:
    return [ends for _, _, ends in encoded]


def method_values(logprobs: Dict[str, List[np.ndarray]], ends: List[List[int]], beta: float) -> Dict[str, list]:
    """{method: [(q, r) per trace]} for every method whose models were scored."""
    out = {}
    for meth, (pol, ref) in METHODS.items():
        if pol in logprobs and (ref is None or ref in logprobs):
            out[meth] = [step_q(logprobs[pol][i], logprobs[ref][i] if ref else None, ends[i], beta)
                         for i in range(len(ends))]
    return out


# ---- metrics ------------------------------------------------------------------------------------
def predicted_first_error(q, threshold: float) -> int:
    return next((k for k, v in enumerate(q) if sigmoid(v) < threshold), -1)


def processbench(traces, qs, threshold) -> Dict[str, float]:
    right_ok = right_n = wrong_ok = wrong_n = 0
    for t, q in zip(traces, qs):
        pred = predicted_first_error(q, threshold)
        if t["first_error"] < 0:
            right_n += 1
            right_ok += pred == -1
        else:
            wrong_n += 1
            wrong_ok += pred == t["first_error"]
    aw, ar = wrong_ok / max(1, wrong_n), right_ok / max(1, right_n)
    f1 = 2 * aw * ar / (aw + ar) if aw + ar > 0 else 0.0
    return {"f1": f1, "acc_wrong": aw, "acc_right": ar, "threshold": threshold, "n_wrong": wrong_n, "n_right": right_n}


def tune_threshold(traces, qs) -> float:
    vals = sorted({sigmoid(v) for q in qs for v in q})
    if not vals:
        return 0.5
    cands = [c + 1e-12 for c in np.quantile(np.array(vals), np.linspace(0, 1, 201)).tolist() + [0.5]]
    return float(max(cands, key=lambda t: (processbench(traces, qs, t)["f1"], -abs(t - 0.5))))


def found_rate(traces, qs, threshold, key: str) -> Dict[str, dict]:
    """Per value of `key` among wrong traces: the share whose first wrong step is found exactly."""
    hit, n = defaultdict(int), defaultdict(int)
    for t, q in zip(traces, qs):
        if t["first_error"] >= 0:
            n[t[key]] += 1
            hit[t[key]] += predicted_first_error(q, threshold) == t["first_error"]
    return {str(k): {"found": hit[k] / n[k], "n": n[k]} for k in sorted(n, key=str)}


def calibration(traces, qs) -> Dict[str, float]:
    """Share of right traces whose final σ(q_n) > 0.5."""
    right = [sigmoid(q[-1]) > 0.5 for t, q in zip(traces, qs) if t["first_error"] < 0]
    return {"right_above_half": float(np.mean(right)) if right else None, "n_right": len(right)}


def best_of_n(groups, n_values=(1, 4, 8, 16), subsets: int = 32, seed: int = 0):
    """groups: per problem a list of (answer, correct, q, r); accuracy of each selection rule."""
    rng = random.Random(seed)
    acc = {k: defaultdict(list) for k in ("min", "sum", "weighted_vote", "majority", "pass_at_1", "pass_at_n")}
    for g in groups:
        for N in n_values:
            if N > len(g):
                continue
            for _ in range(1 if N == len(g) else subsets):
                items = [g[i] for i in rng.sample(range(len(g)), N)]
                acc["pass_at_1"][N].append(float(np.mean([it[1] for it in items])))
                acc["pass_at_n"][N].append(float(any(it[1] for it in items)))
                acc["min"][N].append(float(max(items, key=lambda it: min(it[3]))[1]))
                acc["sum"][N].append(float(max(items, key=lambda it: it[2][-1])[1]))
                votes, wvotes, correct_of = defaultdict(int), defaultdict(float), {}
                for it in items:
                    votes[it[0]] += 1
                    wvotes[it[0]] += sigmoid(it[2][-1])
                    correct_of[it[0]] = it[1]
                acc["majority"][N].append(float(correct_of[max(votes, key=votes.get)]))
                acc["weighted_vote"][N].append(float(correct_of[max(wvotes, key=wvotes.get)]))
    return {k: {str(N): float(np.mean(v)) for N, v in d.items()} for k, d in acc.items()}


def planted_pools(traces, values, pool: int = 8, seed: int = 0) -> Dict[str, float]:
    """Per problem one right solution and pool−1 planted-error ones: how often each rule picks the right one."""
    rng = random.Random(seed)
    by_pid = defaultdict(list)
    for i, t in enumerate(traces):
        by_pid[t["pid"]].append(i)
    hits, n = defaultdict(int), 0
    for idx in by_pid.values():
        right = [i for i in idx if traces[i]["first_error"] < 0]
        wrong = [i for i in idx if traces[i]["first_error"] >= 0]
        if not right or len(wrong) < pool - 1:
            continue
        chosen = right[:1] + rng.sample(wrong, pool - 1)
        n += 1
        hits["min"] += traces[max(chosen, key=lambda i: values[i][1].min())]["first_error"] < 0
        hits["sum"] += traces[max(chosen, key=lambda i: values[i][0][-1])]["first_error"] < 0
    return {"pools": n, "pool_size": pool, **{k: hits[k] / max(1, n) for k in ("min", "sum")}}


def evaluate_set(traces, values, threshold: float, pools: bool) -> dict:
    qs = [q for q, _ in values]
    out = {"processbench": processbench(traces, qs, threshold), "calibration": calibration(traces, qs),
           "by_position": found_rate(traces, qs, threshold, "first_error"),
           "by_ops": {str(k): processbench([t for t in traces if t["ops"] == k],
                                           [q for t, q in zip(traces, qs) if t["ops"] == k], threshold)["f1"]
                      for k in sorted({t["ops"] for t in traces})}}
    if pools:
        out["by_kind"] = found_rate(traces, qs, threshold, "kind")
        seen = [i for i, t in enumerate(traces) if t.get("kind") not in HELD_OUT_KINDS]
        held = [i for i, t in enumerate(traces) if t.get("kind") in HELD_OUT_KINDS or t["first_error"] < 0]
        for name, idx in (("seen_kinds", seen), ("held_out_kinds", held)):
            out[name] = processbench([traces[i] for i in idx], [qs[i] for i in idx], threshold)
        out["best_of_8_pools"] = planted_pools(traces, values)
    else:
        groups = defaultdict(list)
        for t, (q, r) in zip(traces, values):
            if t["source"] == "sampled":
                    groups[t["pid"]].append((t["answer"], t["correct"], q.tolist(), r.tolist()))
        out["best_of_n"] = best_of_n(list(groups.values()))
    return out
