"""REPORT.md and its figures from the build's summary (eval.json)."""
from __future__ import annotations

import os
from typing import List

from .evaluate import METHOD_TITLES
from .mistakes import HELD_OUT_KINDS

NS = ("1", "4", "8", "16")


def pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def figures(s: dict, out_dir: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    for meth, d in s["methods"].items():
        bon = d["own"]["best_of_n"]
        ns = [n for n in NS if n in bon["min"]]
        a.plot([int(n) for n in ns], [100 * bon["min"][n] for n in ns], marker="o", label=f"{METHOD_TITLES[meth]}: min step reward")
    bon = s["methods"]["ce"]["own"]["best_of_n"]
    ns = [n for n in NS if n in bon["min"]]
    for key, style, label in (("majority", ":", "majority vote"), ("pass_at_1", "-.", "random pick (pass@1)"),
                              ("pass_at_n", "-", "oracle (pass@N)")):
        a.plot([int(n) for n in ns], [100 * bon[key][n] for n in ns], ls=style, color="gray", label=label)
    a.set_xscale("log", base=2)
    a.set_xlabel("N (reference samples per problem)")
    a.set_ylabel("accuracy on held-out problems (%)")
    a.set_title("best-of-N")
    a.legend(fontsize=7)
    a.grid(alpha=0.3)
    for loss in ("ce", "dpo"):
        curve = s["training"].get(loss, {}).get("curve", [])
        b.plot([c["step"] for c in curve], [c["validation"] for c in curve], marker=".", label=f"{loss.upper()}")
    b.set_xlabel("PRM training step")
    b.set_ylabel("validation: mean of own-mistake and planted-error F1")
    b.set_title("held-out metric during training")
    b.legend()
    b.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "best_of_n.png"), dpi=100)
    plt.close(fig)


def detection_table(s: dict) -> List[str]:
    L = ["| method | τ | own-mistake F1 | planted F1 | planted F1, held-out kinds | 7–8-op F1 | right σ(q_n) > 0.5 | best-of-8 pools |",
         "|---|---|---|---|---|---|---|---|"]
    for meth, d in s["methods"].items():
        L.append(f"| {METHOD_TITLES[meth]} | {d['threshold']:.3f} | {d['own']['processbench']['f1']:.3f} | "
                 f"{d['planted']['processbench']['f1']:.3f} | {d['planted']['held_out_kinds']['f1']:.3f} | "
                 f"{d['long']['processbench']['f1']:.3f} | {pct(d['own']['calibration']['right_above_half'])}% | "
                 f"{pct(d['planted']['best_of_8_pools']['min'])}% |")
    return L


def best_of_n_table(s: dict) -> List[str]:
    bon = s["methods"]["ce"]["own"]["best_of_n"]
    ns = [n for n in NS if n in bon["min"]]
    L = ["| selection | " + " | ".join(f"N={n}" for n in ns) + " |", "|---|" + "---|" * len(ns)]
    L.append("| random pick (pass@1) | " + " | ".join(pct(bon["pass_at_1"][n]) for n in ns) + " |")
    L.append("| majority vote | " + " | ".join(pct(bon["majority"][n]) for n in ns) + " |")
    for meth, d in s["methods"].items():
        b = d["own"]["best_of_n"]
        for key, what in (("min", "min step reward"), ("sum", "outcome reward"), ("weighted_vote", "weighted vote")):
            L.append(f"| {METHOD_TITLES[meth]}: {what} | " + " | ".join(pct(b[key][n]) for n in ns) + " |")
    L.append("| oracle (pass@N) | " + " | ".join(pct(bon["pass_at_n"][n]) for n in ns) + " |")
    return L


def breakdown_tables(s: dict) -> List[str]:
    ce = s["methods"]["ce"]
    L = ["| planted kind | found (CE) | n |", "|---|---|---|"]
    for kind, v in ce["planted"]["by_kind"].items():
        mark = " (held out: never in training)" if kind in HELD_OUT_KINDS else ""
        L.append(f"| {kind}{mark} | {pct(v['found'])}% | {v['n']} |")
    L += ["", "| first wrong step | planted: found (CE) | own mistakes: found (CE) |", "|---|---|---|"]
    own, planted = ce["own"]["by_position"], ce["planted"]["by_position"]
    for pos in sorted(set(own) | set(planted), key=int):
        L.append(f"| {int(pos) + 1} | {pct(planted.get(pos, {}).get('found'))}% | {pct(own.get(pos, {}).get('found'))}% |")
    L += ["", "| operations | own-mistake F1 (CE) | planted F1 (CE) |", "|---|---|---|"]
    for k in sorted(set(ce["own"]["by_ops"]) | set(ce["planted"]["by_ops"]), key=int):
        L.append(f"| {k} | {ce['own']['by_ops'].get(k, 0):.3f} | {ce['planted']['by_ops'].get(k, 0):.3f} |")
    return L


def setup_lines(s: dict, preset) -> List[str]:
    t, st = s["training"], s["setup"]
    secs = ", ".join(f"{k} {v:.0f} s" for k, v in st["wall_seconds"].items())
    return [
        f"- reference: transformers LlamaForCausalLM {preset.model}, {t['sft']['parameters']:,} parameters, "
        f"tokenizer trained by `tokenizers` (BPE, digits split); SFT {preset.sft.steps} steps × {preset.sft.batch} "
        f"student demonstrations, lr {preset.sft.lr}",
        f"- rollouts: {preset.rollouts.problems} training problems × {preset.rollouts.samples} samples "
        f"(T={preset.rollouts.temperature}), "
        f"{st['rollouts']} usable, {pct(st['rollout_accuracy'])}% right; labels = final answer only",
        f"- implicit PRM: policy initialised from the reference, reference frozen; β = {preset.beta}; batch "
        f"{preset.prm.batch}, lr {preset.prm.lr}, up to {preset.prm.epochs} epochs (DPO {preset.dpo.epochs}); validation "
        f"every {preset.prm.eval_every} "
        f"steps, best kept ("
        + "; ".join(f"{k.upper()}: step {v['best_step']} of {v['steps']}" for k, v in t.items() if k != "sft")
        + f"); DPO ≤ {preset.dpo.pairs_per_problem} right×wrong pairs per problem",
        f"- evaluation traces: {s['counts']}",
        f"- wall time of the build on this machine (2 cores, shared): {secs}",
    ]


def reading_notes(s: dict) -> List[str]:
    """What the tables can and cannot say, with the numbers that say it."""
    m = s["methods"]
    ce, ref = m["ce"], m.get("reference")
    notes = [f"- σ(q_n) is a probability only for CE with its reference: CE puts {pct(ce['own']['calibration']['right_above_half'])}% "
             f"of the reference's right samples above 0.5. Scored reference-free, q = β·Σ log πφ ≤ 0, so σ(q) ≤ 0.5 for every "
             f"trace by construction (0% above 0.5); its τ sits near 0 and only ranks."]
    if ref:
        notes.append(
            f"- The untrained reference already knows the arithmetic: a wrong step is improbable under it, so its own log-prob "
            f"finds many errors (own-mistake F1 {ref['own']['processbench']['f1']:.3f}, 7–8 operations "
            f"{ref['long']['processbench']['f1']:.3f}) but cannot tell a right trace from a doubtful one (σ(q_n) > 0.5 for "
            f"{pct(ref['own']['calibration']['right_above_half'])}%); training on outcomes brings F1 to "
            f"{ce['own']['processbench']['f1']:.3f} and {ce['long']['processbench']['f1']:.3f}.")
        notes.append(
            f"- Best-of-8 planted pools are the one place the log-ratio loses to plain log-probs (CE {pct(ce['planted']['best_of_8_pools']['min'])}%, "
            f"reference alone {pct(ref['planted']['best_of_8_pools']['min'])}%, CE policy reference-free "
            f"{pct(m['ce_ref_free']['planted']['best_of_8_pools']['min'])}%): a planted mistake neither model would make has a tiny "
            f"probability under both, and the implicit reward β·log(πφ/πref) measures only how training moved it, which can be "
            f"small; the log-prob itself stays very negative.")
    if "dpo" in m:
        notes.append(
            f"- DPO trains only differences of q between a right and a wrong trace of one problem, so σ(q) is not calibrated and "
            f"a single τ fits it less well (τ = {m['dpo']['threshold']:.3f}, own-mistake F1 {m['dpo']['own']['processbench']['f1']:.3f} "
            f"vs CE {ce['own']['processbench']['f1']:.3f}); for ranking within a problem it is close to CE.")
    return notes


def write_report(s: dict, preset, out_dir: str) -> None:
    figures(s, out_dir)
    tgt = [f"- {r['target']}: {pct(r['value'])}% (target ≥ {pct(r['bound'])}%) — {'reached' if r['reached'] else 'NOT reached'}"
           for r in s["targets"]]
    L = [f"# {preset.name}: evaluation report", "",
         "Implicit PRM trained from outcome labels only on the synthetic arithmetic domain of `trainer/` "
         "(trainer/README.md has the format, the student's mistakes and the planted-error kinds). Step labels are "
         "used only here, to evaluate. Every number is on held-out problems; τ is tuned on validation problems only.",
         "", "## Targets", "", *tgt, "",
         "## First-error detection", "", *detection_table(s), "",
         "Own mistakes: fresh samples of the reference. Planted: a right solution with one mistake of a known kind "
         "at a random step, per problem one of each kind that applies, plus the right solution; held-out kinds are "
         "ones the student never makes. Best-of-8 pools: one right solution and seven planted-error ones per problem.",
         "", "## Best-of-N on the reference's samples (%)", "", *best_of_n_table(s), "",
         "![best-of-N and training curves](best_of_n.png)", "",
         "## Where the CE model finds the error", "", *breakdown_tables(s), "",
         "## Reading the results", "", *reading_notes(s), "",
         "## Setup", "", *setup_lines(s, preset), ""]
    with open(os.path.join(out_dir, "REPORT.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(L))
