"""End to end: data → SFT reference → rollouts → implicit PRM (CE, DPO) → evaluation → bundle → golden.

Every stage writes its result into the work folder and is skipped when that result is already there
(so an interrupted build resumes); `--force` redoes everything.
"""
from __future__ import annotations

import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from typing import List, Optional

import torch

from . import constants as C
from .bundle import write_bundle
from .data import DomainConfig, Problem, check, problem_split
from .evaluate import evaluate_methods, label_samples, summarize, write_report
from .model import GPT, ModelConfig, load_checkpoint, save_checkpoint
from .sample import sample_solutions
from .tokenizer import CharTokenizer
from .train import train_prm, train_sft


@dataclass
class Preset:
    name: str = "arith-tiny"
    model: dict = field(default_factory=lambda: dict(d_model=96, n_layers=4, n_heads=4, d_ff=384, max_seq_len=256))
    sft_steps: int = 2500
    sft_batch: int = 64
    sft_lr: float = 2e-3
    rollout_problems: int = 1000
    rollout_samples: int = 8
    temperature: float = 1.0
    prm_epochs: float = 2.0
    prm_batch: int = 64
    prm_lr: float = 2e-4
    dpo_pairs_per_problem: int = 8
    val_problems: int = 100
    val_samples: int = 8
    eval_problems: int = 200
    eval_samples: int = 64
    beta: float = C.DEFAULT_BETA
    max_sequence_length: int = 256
    seed: int = 0
    graph: str = "logprobs"


PRESETS = {
    "arith-tiny": Preset(),
    # seconds-scale configuration for tests
    "test": Preset(name="test", model=dict(d_model=32, n_layers=2, n_heads=2, d_ff=64, max_seq_len=256),
                   sft_steps=20, sft_batch=16, sft_lr=3e-3, rollout_problems=6, rollout_samples=4, prm_epochs=1.0,
                   prm_batch=8, val_problems=3, val_samples=4, eval_problems=3, eval_samples=4),
}


def splits(p: Preset, domain: DomainConfig):
    s = p.seed * 1000
    test = problem_split(s + 1, p.eval_problems, domain)
    val = problem_split(s + 2, p.val_problems, domain, exclude={x.text for x in test})
    roll = problem_split(s + 3, p.rollout_problems, domain, exclude={x.text for x in test + val})
    return test, val, roll


def _log_to(path):
    def log(msg):
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    return log


def _save_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)


def _load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def label_rollouts(problems: List[Problem], sampled) -> List[dict]:
    out = []
    for p, rs in zip(problems, sampled):
        for r in rs:
            if not r["steps"]:
                continue  # nothing but EOS: no step to score
            ch = check(p, r["steps"])
            out.append({"problem": p.text, "steps": r["steps"], "correct": bool(ch.correct and r["finished"]),
                        "first_error": ch.first_error})
    return out


def has_pairs(rollouts) -> bool:
    kinds = {}
    for r in rollouts:
        kinds.setdefault(r["problem"], set()).add(bool(r["correct"]))
    return any(len(v) == 2 for v in kinds.values())


def stage_times_md(times: dict) -> str:
    return ", ".join(f"{k} {v:.0f} s" for k, v in times.items())


def build(preset: Preset, work: str, out_dir: Optional[str], golden_out: Optional[str] = None,
          bundle_dir_rel: Optional[str] = None, force: bool = False, threads: int = 2) -> dict:
    torch.set_num_threads(threads)
    os.makedirs(work, exist_ok=True)
    log = _log_to(os.path.join(work, "build.log"))
    # Seconds of each stage when it last ran: a resumed build skips finished stages, and its report
    # must still give the wall time of the whole pipeline, not of the resumption.
    times_path = os.path.join(work, "stage_seconds.json")
    times = {} if force or not os.path.exists(times_path) else _load_json(times_path)

    def stage_done(name: str, t0: float, ran: bool) -> None:
        if ran or name not in times:
            times[name] = time.time() - t0
        _save_json(times_path, times)

    def wall_seconds() -> dict:
        return {**times, "total": sum(times.values())}
    tok = CharTokenizer(model_max_length=preset.max_sequence_length)
    domain = DomainConfig()
    test, val, roll = splits(preset, domain)
    exclude = {x.text for x in test + val + roll}
    log(f"build {preset.name}: {asdict(preset)}")

    # 1. reference (SFT)
    t = time.time()
    ref_path = os.path.join(work, "reference.pt")
    ran = force or not os.path.exists(ref_path)
    if ran:
        cfg = ModelConfig(vocab_size=tok.vocab_size, **preset.model)
        ref, info = train_sft(cfg, tok, domain, preset.sft_steps, preset.sft_batch, preset.sft_lr, preset.seed, exclude, log=log)
        save_checkpoint(ref_path, ref, {"sft": info})
        log(f"reference: {ref.num_params()} parameters, {info}")
    ref, _ = load_checkpoint(ref_path)
    stage_done("sft", t, ran)

    # 2. rollouts on training problems, labelled by final answer only
    t = time.time()
    roll_path = os.path.join(work, "rollouts.json")
    ran = force or not os.path.exists(roll_path)
    if ran:
        sampled = sample_solutions(ref, tok, [p.text for p in roll], preset.rollout_samples, preset.temperature,
                                   seed=preset.seed + 11, desc="rollouts")
        rollouts = label_rollouts(roll, sampled)
        _save_json(roll_path, rollouts)
        acc = sum(r["correct"] for r in rollouts) / max(1, len(rollouts))
        log(f"rollouts: {len(rollouts)} samples, {acc:.3f} correct")
    rollouts = _load_json(roll_path)
    stage_done("rollouts", t, ran)

    # 3. implicit PRMs
    policies = {}
    for loss in ("ce", "dpo"):
        t = time.time()
        pth = os.path.join(work, f"policy_{loss}.pt")
        if loss == "dpo" and not has_pairs(rollouts):
            log("dpo: no problem has both a right and a wrong rollout; DPO skipped")
            policies[loss] = None
            continue
        ran = force or not os.path.exists(pth)
        if ran:
            pol, info = train_prm(ref, tok, rollouts, loss=loss, beta=preset.beta, epochs=preset.prm_epochs,
                                  batch_size=preset.prm_batch, lr=preset.prm_lr, seed=preset.seed,
                                  max_pairs_per_problem=preset.dpo_pairs_per_problem, log=log)
            save_checkpoint(pth, pol, {"prm": info})
            log(f"policy {loss}: {info}")
        policies[loss], _ = load_checkpoint(pth)
        stage_done(f"train_{loss}", t, ran)

    # 4. evaluation samples (fresh, from the reference) and evaluation
    t = time.time()
    ev_path = os.path.join(work, "eval_samples.json")
    ran = force or not os.path.exists(ev_path)
    if ran:
        vs = sample_solutions(ref, tok, [p.text for p in val], preset.val_samples, preset.temperature,
                              seed=preset.seed + 22, desc="val samples")
        ts = sample_solutions(ref, tok, [p.text for p in test], preset.eval_samples, preset.temperature,
                              seed=preset.seed + 33, desc="test samples")
        _save_json(ev_path, {"val": label_samples(val, vs), "test": label_samples(test, ts)})
    ev = _load_json(ev_path)
    stage_done("eval_sampling", t, ran)
    t = time.time()
    res = evaluate_methods({"reference": ref, "ce": policies["ce"], "dpo": policies["dpo"]}, tok, preset.beta,
                           ev["val"], ev["test"], log=log)
    summary = summarize(res, "ce")
    stage_done("evaluate", t, True)
    summary["setup"] = {
        "preset": asdict(preset), "reference_params": ref.num_params(),
        "test_problems": len(test), "samples_per_test_problem": preset.eval_samples,
        "val_problems": len(val), "samples_per_val_problem": preset.val_samples,
        "rollout_samples": len(rollouts), "rollout_accuracy": sum(r["correct"] for r in rollouts) / max(1, len(rollouts)),
        "test_sample_accuracy": sum(s["correct"] for s in ev["test"]) / max(1, len(ev["test"])),
    }

    # 5. bundle
    if out_dir:
        t = time.time()
        bon = summary["best_of_n"]
        prov = {
            "training_data": "synthetic multi-step arithmetic (implicit_prm.data); reference: SFT on simulated-student "
                             "demonstrations; PRM: reference rollouts labelled by final-answer correctness only",
            "loss": "ce", "steps": json.loads(json.dumps(torch.load(os.path.join(work, "policy_ce.pt"))["extra"]["prm"]["steps"])),
            "seed": preset.seed,
            "metrics": {"processbench_f1": summary["processbench"]["f1"], "best_of_16_min": bon["min"].get("16"),
                        "majority_16": bon["majority"].get("16"), "pass_at_1": bon["pass_at_1"]},
        }
        write_bundle(out_dir, preset.name, policies["ce"], ref, tok, graph=preset.graph, beta=preset.beta,
                     max_sequence_length=preset.max_sequence_length, provenance=prov)
        stage_done("export", t, True)
        summary["setup"]["wall_seconds"] = wall_seconds()
        with open(os.path.join(out_dir, "eval.json"), "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
            f.write("\n")
        write_report(summary, out_dir, report_meta(preset, summary, wall_seconds()))
        if golden_out:
            from .golden import write_golden
            write_golden(out_dir, golden_out, bundle_dir_rel or out_dir)
    wall = summary["setup"]["wall_seconds"] = wall_seconds()
    log(f"done in {wall['total']:.0f} s: {stage_times_md(wall)}")
    return summary


def report_meta(preset: Preset, s: dict, times: dict) -> dict:
    bon = s["best_of_n"]
    pb = s["processbench"]
    f1 = pb["f1"]
    m16, maj16, p1 = bon["min"].get("16"), bon["majority"].get("16"), bon["pass_at_1"]
    ok = lambda b: "reached" if b else "NOT reached"
    tgt = [
        f"- reference pass@1 in [30%, 80%]: {100 * p1:.1f}% — {ok(0.3 <= p1 <= 0.8)}",
        f"- ProcessBench F1 ≥ 0.70: {f1:.3f} — {ok(f1 >= 0.70)}",
    ]
    if m16 is not None:
        tgt.append(f"- best-of-16 by min step reward ≥ majority@16 + 10 points: {100 * m16:.1f}% vs {100 * maj16:.1f}% — {ok(m16 >= maj16 + 0.10)}")
        tgt.append(f"- best-of-16 by min step reward ≥ pass@1 + 10 points: {100 * m16:.1f}% vs {100 * p1:.1f}% — {ok(m16 >= p1 + 0.10)}")
    st = s["setup"]
    details = (
        f"- reference: decoder-only transformer, {st['reference_params']:,} parameters ({preset.model}), "
        f"SFT {preset.sft_steps} steps × {preset.sft_batch} demonstrations, lr {preset.sft_lr}\n"
        f"- rollouts: {preset.rollout_problems} training problems × {preset.rollout_samples} samples (T={preset.temperature}), "
        f"{st['rollout_samples']} usable, {100 * st['rollout_accuracy']:.1f}% correct; labels = final answer only\n"
        f"- implicit PRM: policy initialised from the reference, reference frozen; β = {preset.beta}; "
        f"{preset.prm_epochs} epochs, batch {preset.prm_batch}, lr {preset.prm_lr}; DPO: ≤ {preset.dpo_pairs_per_problem} "
        f"correct×incorrect pairs per problem\n"
        f"- evaluation: {st['test_problems']} held-out problems × {st['samples_per_test_problem']} fresh reference samples; "
        f"τ tuned on {st['val_problems']} validation problems × {st['samples_per_val_problem']} samples; best-of-N averaged "
        f"over 32 random subsets per problem (N < 64)\n"
        f"- wall time on the build machine (2 shared cores): {stage_times_md(times)}"
    )
    intro = ("Implicit PRM trained from outcome labels only on the synthetic arithmetic domain of `trainer/` "
             "(see trainer/README.md for the format and the simulated-student design). Step labels are used "
             "only here, to evaluate.")
    return {"name": preset.name, "intro": intro, "targets": "\n".join(tgt), "details": details,
            "notes": report_notes(s)}


def report_notes(s: dict) -> str:
    """What the tables can and cannot say, with the numbers that say it."""
    import math

    st = s["setup"]
    n_test = st["test_problems"]
    bon = s["best_of_n"]
    notes = []
    if "64" in bon["min"]:
        p = bon["min"]["64"]
        se = 100 * math.sqrt(max(p * (1 - p), 1e-9) / max(1, n_test))
        notes.append(
            f"- N = {st['samples_per_test_problem']} uses every sample of a problem once: one draw per problem, "
            f"{n_test} problems, so its accuracies carry a standard error of about {se:.1f} points; "
            f"smaller N average 32 random subsets per problem and move less.")
    meths = s.get("methods", {})
    if "ce" in meths and "dpo" in meths:
        ce, dpo = meths["ce"]["processbench"], meths["dpo"]["processbench"]
        notes.append(
            f"- First-error detection thresholds σ(q_k). CE trains σ(q) as the probability that the response is right, "
            f"so one τ fits every problem (CE τ = {ce['threshold']:.3f}, F1 {ce['f1']:.3f}). DPO trains only differences "
            f"of q between a right and a wrong response of the same problem (its loss is unchanged when a constant is "
            f"added to every q of a problem), so σ(q) is not a probability and a single τ fits it poorly "
            f"(DPO τ = {dpo['threshold']:.3f}, F1 {dpo['f1']:.3f}); best-of-N only compares responses of one problem, "
            f"and there DPO is much closer to CE.")
    if "reference" in meths:
        r = meths["reference"]["best_of_n"]["min"].get("16")
        if r is not None:
            notes.append(
                f"- The untrained reference's own log-prob selects worse than a random pick at N = 16 "
                f"({100 * r:.1f}% vs {100 * bon['pass_at_1']:.1f}%): the reference imitates the student, whose "
                f"systematic slips are likely under it; the implicit PRM's gain comes from training on outcomes.")
    return "\n".join(notes)
