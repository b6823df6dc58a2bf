"""End to end: tokenizer → SFT reference → rollouts → implicit PRMs (CE, DPO) → evaluation →
bundle (through `import`, the path users' Hugging Face models take) → golden.

Every stage writes its result into the work folder and is skipped when that result is already
there (an interrupted build resumes); `--force` redoes everything.
"""
from __future__ import annotations

import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import torch

from .data import DomainConfig, Problem, check, problem_split
from .pipeline_eval import evaluate_all, validation_score
from .pipeline_report import write_outputs
from .train import dpo_pairs


@dataclass
class Sft:
    """The reference: next-token prediction on freshly drawn student demonstrations."""
    steps: int = 3500
    batch: int = 64
    lr: float = 2e-3


@dataclass
class Rollouts:
    """Outcome-labelled samples of the reference: the PRMs' only training data."""
    problems: int = 3000
    samples: int = 8
    temperature: float = 1.0


@dataclass
class PrmTraining:
    """CE (and DPO, for dpo_epochs) from the reference; validation every `eval_every` steps, the best
    step kept, a stop after `patience` checks without gain."""
    epochs: float = 4.0
    batch: int = 64
    lr: float = 2e-4
    eval_every: int = 100
    patience: int = 4


@dataclass
class Dpo:
    pairs_per_problem: int = 8  # right × wrong pairs of one problem
    epochs: float = 1.5


@dataclass
class EvalSets:
    """(held-out problems, reference samples per problem): validation (τ, the training step), test,
    and the 7–8-operation chains."""
    val: Tuple[int, int] = (150, 8)
    test: Tuple[int, int] = (300, 16)
    long: Tuple[int, int] = (150, 8)


@dataclass
class Preset:
    name: str = "arith-tiny"
    model: dict = field(default_factory=lambda: dict(hidden=128, layers=4, heads=4, kv_heads=2, intermediate=384))
    max_sequence_length: int = 256
    beta: float = 2.0  # trainer/README.md: why not the paper's 0.05
    seed: int = 0
    sft: Sft = field(default_factory=Sft)
    rollouts: Rollouts = field(default_factory=Rollouts)
    prm: PrmTraining = field(default_factory=PrmTraining)
    dpo: Dpo = field(default_factory=Dpo)
    eval: EvalSets = field(default_factory=EvalSets)


PRESETS = {
    "arith-tiny": Preset(),
    # seconds-scale configuration for tests
    "test": Preset(name="test", model=dict(hidden=32, layers=2, heads=2, kv_heads=1, intermediate=64),
                   sft=Sft(steps=20, batch=16, lr=3e-3), rollouts=Rollouts(problems=6, samples=4),
                   prm=PrmTraining(epochs=1.0, batch=8, eval_every=2, patience=1),
                   eval=EvalSets(val=(3, 4), test=(3, 4), long=(2, 2))),
}


def splits(p: Preset) -> Dict[str, List[Problem]]:
    """Disjoint problem sets: test, validation, 7–8-operation chains, rollouts (training)."""
    s, out, seen = p.seed * 1000, {}, set()
    for name, n, domain, k in (("test", p.eval.test[0], DomainConfig(), 1), ("val", p.eval.val[0], DomainConfig(), 2),
                               ("long", p.eval.long[0], DomainConfig(min_ops=7, max_ops=8), 4),
                               ("rollouts", p.rollouts.problems, DomainConfig(), 3)):
        out[name] = problem_split(s + k, n, domain, exclude=seen)
        seen |= {x.text for x in out[name]}
    return out


def label_rollouts(problems: List[Problem], sampled) -> List[dict]:
    out = []
    for p, rs in zip(problems, sampled):
        for r in rs:
            if r["steps"]:  # nothing but EOS: no step to score
                ch = check(p, r["steps"])
                out.append({"problem": p.text, "steps": r["steps"], "correct": bool(ch.correct and r["finished"]),
                            "first_error": ch.first_error})
    return out


class Work:
    """The work folder: stage results, their wall times and the build log."""

    def __init__(self, path: str, force: bool):
        os.makedirs(path, exist_ok=True)
        self.path, self.force = path, force
        self.times_path = os.path.join(path, "stage_seconds.json")
        self.times = {} if force or not os.path.exists(self.times_path) else json.load(open(self.times_path))

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def log(self, msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        with open(self.file("build.log"), "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def stage(self, name: str, output: str, run: Callable[[str], None]) -> str:
        """Runs `run(path)` unless its output exists; the seconds of the last real run are kept."""
        path = self.file(output)
        if self.force or not os.path.exists(path):
            t0 = time.time()
            run(path)
            self.times[name] = time.time() - t0
            with open(self.times_path, "w") as f:
                json.dump(self.times, f)
        return path

    def wall_seconds(self) -> dict:
        return {**self.times, "total": sum(self.times.values())}


def save_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)


def load_json(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def save_model(path: str, model, tok, info: dict) -> None:
    model.save_pretrained(path)
    tok.save_pretrained(path)
    save_json(os.path.join(path, "training.json"), info)


def build(preset: Preset, work_dir: str, out_dir: Optional[str], golden_out: Optional[str] = None,
          bundle_dir_rel: Optional[str] = None, force: bool = False, threads: int = 2) -> dict:
    from transformers import PreTrainedTokenizerFast

    from .arith_tokenizer import train_tokenizer
    from .lm import llama_config, load_model, sample
    from .train import train_prm, train_sft

    torch.set_num_threads(threads)
    work = Work(work_dir, force)
    work.log(f"build {preset.name}: {asdict(preset)}")
    sets = splits(preset)
    exclude = {x.text for s in sets.values() for x in s}

    tok_dir = work.stage("tokenizer", "tokenizer", lambda d: train_tokenizer(preset.max_sequence_length).save_pretrained(d))
    tok = PreTrainedTokenizerFast.from_pretrained(tok_dir)

    def run_sft(d):
        cfg = llama_config(len(tok), max_positions=preset.max_sequence_length, eos_id=tok.eos_token_id,
                           pad_id=tok.pad_token_id, **preset.model)
        model, info = train_sft(cfg, tok, DomainConfig(), preset.sft.steps, preset.sft.batch, preset.sft.lr, preset.seed,
                                exclude, log=work.log)
        save_model(d, model, tok, {"sft": info, "parameters": model.num_parameters()})
    reference = load_model(work.stage("sft", "reference", run_sft))

    def sampled(split, n, seed):
        return sample(reference, tok, [p.text for p in sets[split]], n, preset.rollouts.temperature, seed, preset.max_sequence_length // 2)

    def run_rollouts(path):
        save_json(path, label_rollouts(sets["rollouts"], sampled("rollouts", preset.rollouts.samples, preset.seed + 11)))
    rollouts = load_json(work.stage("rollouts", "rollouts.json", run_rollouts))
    work.log(f"rollouts: {len(rollouts)}, {sum(r['correct'] for r in rollouts) / max(1, len(rollouts)):.3f} correct")

    def run_eval_samples(path):
        save_json(path, {"val": sampled("val", preset.eval.val[1], preset.seed + 22),
                         "test": sampled("test", preset.eval.test[1], preset.seed + 33),
                         "long": sampled("long", preset.eval.long[1], preset.seed + 44)})
    eval_samples = load_json(work.stage("eval_sampling", "eval_samples.json", run_eval_samples))
    validate = validation_score(reference, tok, sets["val"], eval_samples["val"], preset)

    policies = {}
    for loss in ("ce", "dpo"):
        if loss == "dpo" and not dpo_pairs(rollouts, random.Random(0), 1):
            work.log("dpo: no problem has both a right and a wrong rollout; DPO skipped")
            continue

        def run_prm(d, loss=loss):
            model, info = train_prm(reference, tok, rollouts, loss=loss, beta=preset.beta,
                                    epochs=preset.prm.epochs if loss == "ce" else preset.dpo.epochs,
                                    batch_size=preset.prm.batch, lr=preset.prm.lr, seed=preset.seed,
                                    max_pairs_per_problem=preset.dpo.pairs_per_problem, validate=validate,
                                    eval_every=preset.prm.eval_every, patience=preset.prm.patience, log=work.log)
            save_model(d, model, tok, {"prm": info})
        policies[loss] = work.file(f"policy_{loss}")
        work.stage(f"train_{loss}", f"policy_{loss}", run_prm)

    t0 = time.time()
    models = {"reference": reference, **{k: load_model(v) for k, v in policies.items()}}
    summary = evaluate_all(models, tok, sets, eval_samples, preset, log=work.log)
    work.times["evaluate"] = time.time() - t0
    summary["training"] = {k: load_json(os.path.join(v, "training.json"))["prm"] for k, v in policies.items()}
    summary["training"]["sft"] = load_json(os.path.join(work.file("reference"), "training.json"))
    summary["setup"] = {"preset": asdict(preset), "rollouts": len(rollouts),
                        "rollout_accuracy": sum(r["correct"] for r in rollouts) / max(1, len(rollouts)),
                        "wall_seconds": work.wall_seconds()}
    if out_dir:
        write_outputs(summary, preset, out_dir, policies["ce"], work.file("reference"), golden_out, bundle_dir_rel)
    work.log(f"done: {summary['setup']['wall_seconds']}")
    return summary
