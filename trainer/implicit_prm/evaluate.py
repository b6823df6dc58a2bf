"""Evaluation on held-out problems with fresh samples from the reference model.

Methods (each gives per-step q_k for every sample):
  ce           CE-trained policy vs reference         q_k = β Σ (log πφ − log πref)
  dpo          DPO-trained policy vs reference
  ce_ref_free  CE-trained policy scored reference-free q_k = β Σ log πφ
  reference    the untrained reference alone          q_k = β Σ log πref   (no-training baseline)

ProcessBench-style: the predicted first error is the first step with σ(q_k) < τ (τ tuned per method on a
validation split); accuracy on wrong solutions = predicted step == true first wrong step; accuracy on
right solutions = no step flagged; F1 = their harmonic mean.
Best-of-N (N ∈ {1,4,16,64}), averaged over random size-N subsets of the 64 samples per problem:
  min (min step reward r_k), sum (outcome reward q_n), weighted_vote (Σσ(q_n) per answer),
  majority (plain vote), pass_at_1 (random pick), pass_at_n (oracle).
"""
from __future__ import annotations

import json
import math
import os
import random
from collections import defaultdict
from typing import Dict, List

import numpy as np
import torch
from tqdm import tqdm

from .data import Problem, check
from .train import encode_example, pad_batch, token_logprobs
from .scoring import step_ends, segment
from . import constants as C

NS = (1, 4, 16, 64)
METHODS = ("ce", "dpo", "ce_ref_free", "reference")
METHOD_TITLES = {"ce": "CE (implicit PRM)", "dpo": "DPO (implicit PRM)", "ce_ref_free": "CE, scored reference-free",
                 "reference": "Reference log-prob (no training)"}


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0


@torch.no_grad()
def per_token_logprobs(model, tok, samples: List[dict], batch_size: int = 128, desc="scoring") -> List[np.ndarray]:
    """Response-token log-probs for each sample (padded batches sorted by length)."""
    ex = [encode_example(tok, s["problem"], s["steps"]) for s in samples]
    order = sorted(range(len(ex)), key=lambda i: len(ex[i][0]))
    out: List[np.ndarray] = [None] * len(ex)
    for b in tqdm(range(0, len(order), batch_size), desc=desc, unit="batch", leave=False):
        idx = order[b: b + batch_size]
        ids, mask, tmask = pad_batch([ex[i] for i in idx], tok.pad_id)
        lp = token_logprobs(model, ids, mask).numpy()
        for row, i in enumerate(idx):
            s, p = ex[i]
            out[i] = lp[row, p - 1: len(s) - 1].astype(np.float64)
    return out


def step_q(lp_pol, lp_ref, ends, beta):
    ell = lp_pol - lp_ref if lp_ref is not None else lp_pol
    cum = np.cumsum(ell) * beta
    q = cum[ends]
    r = np.diff(np.concatenate([[0.0], q]))
    return q, r


def processbench(samples, qs, threshold) -> Dict[str, float]:
    right_ok = right_n = wrong_ok = wrong_n = 0
    for s, q in zip(samples, qs):
        pred = -1
        for k, v in enumerate(q):
            if sigmoid(v) < threshold:
                pred = k
                break
        if s["first_error"] < 0:
            right_n += 1
            right_ok += pred == -1
        else:
            wrong_n += 1
            wrong_ok += pred == s["first_error"]
    aw = wrong_ok / max(1, wrong_n)
    ar = right_ok / max(1, right_n)
    f1 = 2 * aw * ar / (aw + ar) if aw + ar > 0 else 0.0
    return {"f1": f1, "acc_wrong": aw, "acc_right": ar, "threshold": threshold, "n_wrong": wrong_n, "n_right": right_n}


def tune_threshold(samples, qs) -> float:
    vals = sorted({sigmoid(v) for q in qs for v in q})
    if not vals:
        return 0.5
    cands = np.quantile(np.array(vals), np.linspace(0, 1, 201)).tolist() + [0.5]
    cands = [c + 1e-12 for c in cands]
    best = max(cands, key=lambda t: (processbench(samples, qs, t)["f1"], -abs(t - 0.5)))
    return float(best)


def best_of_n(groups, n_values=NS, subsets: int = 32, seed: int = 0):
    """groups: per problem a list of (answer, correct, q list, r list)."""
    rng = random.Random(seed)
    acc = {k: defaultdict(list) for k in ("min", "sum", "weighted_vote", "majority", "pass_at_1", "pass_at_n")}
    for g in groups:
        M = len(g)
        for N in n_values:
            if N > M:
                continue
            reps = 1 if N == M else subsets
            for _ in range(reps):
                sub = rng.sample(range(M), N)
                items = [g[i] for i in sub]
                acc["pass_at_1"][N].append(float(np.mean([it[1] for it in items])))
                acc["pass_at_n"][N].append(float(any(it[1] for it in items)))
                acc["min"][N].append(float(max(items, key=lambda it: min(it[3]))[1]))
                acc["sum"][N].append(float(max(items, key=lambda it: it[2][-1])[1]))
                votes, wvotes, correct_of = defaultdict(int), defaultdict(float), {}
                for it in items:
                    votes[it[0]] += 1
                    wvotes[it[0]] += sigmoid(it[2][-1])
                    correct_of[it[0]] = it[1]
                acc["majority"][N].append(float(correct_of[max(votes, key=lambda a: votes[a])]))
                acc["weighted_vote"][N].append(float(correct_of[max(wvotes, key=lambda a: wvotes[a])]))
    return {k: {str(N): float(np.mean(v)) for N, v in d.items()} for k, d in acc.items()}


def label_samples(problems: List[Problem], sampled) -> List[dict]:
    out = []
    for pi, (p, rs) in enumerate(zip(problems, sampled)):
        for r in rs:
            steps = r["steps"] if r["steps"] else ["Answer:"]
            ch = check(p, steps)
            out.append({"problem": p.text, "pid": pi, "steps": steps, "correct": bool(ch.correct and r["finished"]),
                        "first_error": ch.first_error, "answer": ch.answer, "finished": r["finished"]})
    return out


def evaluate_methods(models: Dict[str, object], tok, beta: float, val_samples, test_samples, log=print) -> dict:
    """models: {"reference": ref, "ce": ce_policy, "dpo": dpo_policy (optional)} → eval dict."""
    lps = {}
    for name, m in models.items():
        if m is None:
            continue
        lps[name] = {"val": per_token_logprobs(m, tok, val_samples, desc=f"score val {name}"),
                     "test": per_token_logprobs(m, tok, test_samples, desc=f"score test {name}")}
    ends = {split: [step_ends(segment(tok, C.TEXT_FORMAT, s["problem"], s["steps"])) for s in ss]
            for split, ss in (("val", val_samples), ("test", test_samples))}
    defs = {"ce": ("ce", "reference"), "dpo": ("dpo", "reference"), "ce_ref_free": ("ce", None), "reference": ("reference", None)}
    res = {"methods": {}}
    n_per = defaultdict(int)
    for s in test_samples:
        n_per[s["pid"]] += 1
    for meth, (pol, ref) in defs.items():
        if pol not in lps or (ref is not None and ref not in lps):
            continue
        qr = {}
        for split, ss in (("val", val_samples), ("test", test_samples)):
            qr[split] = [step_q(lps[pol][split][i], lps[ref][split][i] if ref else None, ends[split][i], beta)
                         for i in range(len(ss))]
        th = tune_threshold(val_samples, [q for q, _ in qr["val"]])
        pb = processbench(test_samples, [q for q, _ in qr["test"]], th)
        groups = defaultdict(list)
        for s, (q, r) in zip(test_samples, qr["test"]):
            groups[s["pid"]].append((s["answer"], s["correct"], q.tolist(), r.tolist()))
        bon = best_of_n(list(groups.values()))
        res["methods"][meth] = {"processbench": pb, "best_of_n": bon}
        log(f"{meth}: F1 {pb['f1']:.3f} (wrong {pb['acc_wrong']:.3f}, right {pb['acc_right']:.3f}, τ={th:.3f}); "
            f"BoN min {bon['min']}; majority {bon['majority']}; pass@1 {bon['pass_at_1'].get('1')}")
    return res


def summarize(res: dict, main_method: str = "ce") -> dict:
    m = res["methods"][main_method]
    bon = m["best_of_n"]
    out = {
        "method": main_method,
        "processbench": m["processbench"],
        "best_of_n": {"pass_at_1": bon["pass_at_1"]["1"], "pass_at_n": bon["pass_at_n"], "min": bon["min"],
                      "sum": bon["sum"], "weighted_vote": bon["weighted_vote"], "majority": bon["majority"],
                      "random_pick": bon["pass_at_1"]},
        "methods": res["methods"],
    }
    return out


def write_report(eval_obj: dict, out_dir: str, meta: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meths = eval_obj["methods"]
    Ns = [str(n) for n in NS if str(n) in eval_obj["best_of_n"]["min"]]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs = [int(n) for n in Ns]
    for meth, d in meths.items():
        ax.plot(xs, [100 * d["best_of_n"]["min"][n] for n in Ns], marker="o", label=f"{METHOD_TITLES.get(meth, meth)}: min step reward")
    ce = meths.get("ce", next(iter(meths.values())))["best_of_n"]
    ax.plot(xs, [100 * ce["weighted_vote"][n] for n in Ns], marker="^", ls="--", label="CE: weighted vote")
    ax.plot(xs, [100 * ce["majority"][n] for n in Ns], marker="s", ls=":", color="k", label="majority vote")
    ax.plot(xs, [100 * ce["pass_at_1"][n] for n in Ns], ls="-.", color="gray", label="random pick (pass@1)")
    ax.plot(xs, [100 * ce["pass_at_n"][n] for n in Ns], ls="-", color="lightgray", label="oracle (pass@N)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs)
    ax.set_xticklabels(Ns)
    ax.set_xlabel("N (samples per problem)")
    ax.set_ylabel("accuracy on held-out problems (%)")
    ax.set_title(f"{meta.get('name', '')}: best-of-N")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "best_of_n.png"), dpi=110)
    plt.close(fig)

    L = []
    L.append(f"# {meta.get('name', 'model')}: evaluation report\n")
    L.append(meta.get("intro", "") + "\n")
    L.append("## ProcessBench-style first-error detection (held-out problems)\n")
    L.append("| method | F1 | acc. on wrong | acc. on right | τ (tuned on validation) | #wrong | #right |")
    L.append("|---|---|---|---|---|---|---|")
    for meth, d in meths.items():
        pb = d["processbench"]
        L.append(f"| {METHOD_TITLES.get(meth, meth)} | {pb['f1']:.3f} | {pb['acc_wrong']:.3f} | {pb['acc_right']:.3f} | {pb['threshold']:.3f} | {pb['n_wrong']} | {pb['n_right']} |")
    L.append("\n## Best-of-N accuracy (%) on held-out problems\n")
    L.append("| selection | " + " | ".join(f"N={n}" for n in Ns) + " |")
    L.append("|---|" + "---|" * len(Ns))
    L.append("| random pick (pass@1) | " + " | ".join(f"{100 * ce['pass_at_1'][n]:.1f}" for n in Ns) + " |")
    L.append("| majority vote | " + " | ".join(f"{100 * ce['majority'][n]:.1f}" for n in Ns) + " |")
    for meth, d in meths.items():
        b = d["best_of_n"]
        t = METHOD_TITLES.get(meth, meth)
        L.append(f"| {t}: min step reward | " + " | ".join(f"{100 * b['min'][n]:.1f}" for n in Ns) + " |")
        L.append(f"| {t}: outcome reward (sum) | " + " | ".join(f"{100 * b['sum'][n]:.1f}" for n in Ns) + " |")
        L.append(f"| {t}: weighted vote | " + " | ".join(f"{100 * b['weighted_vote'][n]:.1f}" for n in Ns) + " |")
    L.append("| oracle (pass@N) | " + " | ".join(f"{100 * ce['pass_at_n'][n]:.1f}" for n in Ns) + " |")
    L.append("\n![best-of-N](best_of_n.png)\n")
    if meta.get("targets"):
        L.append("## Targets\n")
        L.append(meta["targets"] + "\n")
    if meta.get("notes"):
        L.append("## Reading the results\n")
        L.append(meta["notes"] + "\n")
    if meta.get("details"):
        L.append("## Setup\n")
        L.append(meta["details"] + "\n")
    with open(os.path.join(out_dir, "REPORT.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(L))
