"""implicit-prm trainer. Run `python3 -m implicit_prm <command> --help` for each command.

Main commands:
  build             end to end: data → SFT reference → rollouts → CE/DPO PRMs → eval → bundle (+ golden)
  golden            golden fixture JSON for a bundle, computed in PyTorch
  score             reference scorer (PyTorch) over a JSONL file, from a bundle folder alone
  export-random     randomly initialised bundle of a given size (benchmarks)
  make-test-bundles the small random bundles + golden files under test/fixtures/
  import            a bundle from Hugging Face models (transformers checkpoints or optimum exports)
  inspect           a bundle's manifest, graphs, file sizes, fingerprint and tokenizer
Inspection: data, check.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from . import constants as C


def repo_root() -> str:
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def rel_to_repo(path: str) -> str:
    return os.path.relpath(os.path.abspath(path), repo_root()).replace(os.sep, "/")


def _threads(a):
    import torch
    torch.set_num_threads(max(1, getattr(a, "threads", 2) or 2))


# ---- commands --------------------------------------------------------------------------
def cmd_make_test_bundles(a):
    from .golden import write_golden
    from .testbundles import make_test_bundles

    make_test_bundles(a.out)
    if a.golden_out:
        for name in ("tiny-logprobs", "tiny-logits", "tiny-ref-free", "tiny-logprobs-fused"):
            bdir = os.path.join(a.out, name)
            write_golden(bdir, os.path.join(a.golden_out, f"{name}.json"), rel_to_repo(bdir))
    print(f"wrote test bundles under {a.out}")


def cmd_golden(a):
    from .golden import write_golden

    g = write_golden(a.bundle, a.out, a.bundle_dir or rel_to_repo(a.bundle))
    print(f"wrote {len(g['cases'])} cases to {a.out}")


def cmd_data(a):
    import random
    from .data import DomainConfig, random_problem, student_solution, correct_solution, check

    rng = random.Random(a.seed)
    dom = DomainConfig()
    with open(a.out, "w", encoding="utf-8") as f:
        for _ in range(a.n):
            p = random_problem(rng, dom)
            steps, bugs = student_solution(p, dom.student, rng) if a.student else (correct_solution(p), None)
            ch = check(p, steps)
            f.write(json.dumps({"problem": p.text, "prompt": p.text, "steps": steps, "answer": p.answer, "bugs": bugs,
                                "correct": ch.correct, "first_error": ch.first_error}) + "\n")
    print(f"wrote {a.n} problems to {a.out}")


def cmd_check(a):
    from .data import Problem, check

    out = open(a.out, "w", encoding="utf-8") if a.out else sys.stdout
    n = ok = 0
    with open(a.inp, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            it = json.loads(line)
            ch = check(Problem.parse(it.get("problem") or it["prompt"]), it["steps"])
            it.update({"correct": ch.correct, "first_error": ch.first_error, "parsed_answer": ch.answer})
            n += 1
            ok += ch.correct
            out.write(json.dumps(it) + "\n")
    if a.out:
        out.close()
    sys.stderr.write(json.dumps({"items": n, "correct": ok}) + "\n")


def _preset(a):
    from .pipeline import PRESETS
    import copy
    p = copy.deepcopy(PRESETS[a.preset])
    given = lambda k: getattr(a, k, None) is not None  # noqa: E731
    if given("sft_steps"):
        p.sft.steps = a.sft_steps
    if given("rollout_problems"):
        p.rollouts.problems = a.rollout_problems
    if given("rollout_samples"):
        p.rollouts.samples = a.rollout_samples
    if given("eval_problems") or given("eval_samples"):
        p.eval.test = (a.eval_problems or p.eval.test[0], a.eval_samples or p.eval.test[1])
    if given("seed"):
        p.seed = a.seed
    if getattr(a, "name", None):
        p.name = a.name
    return p


def cmd_build(a):
    from .pipeline import build

    p = _preset(a)
    out = a.out if a.out is not None else os.path.join(repo_root(), "models", p.name)
    work = a.work or os.path.join(repo_root(), "trainer", "runs", p.name)
    golden = a.golden_out
    if golden == "auto":
        golden = os.path.join(repo_root(), "test", "fixtures", "golden", f"{p.name}.json")
    s = build(p, work, out, golden, rel_to_repo(out), force=a.force, threads=a.threads)
    print(json.dumps(s["targets"], ensure_ascii=False))


def cmd_score(a):
    from .scorecmd import run_score

    run_score(a.bundle, a.inp, a.out, a.threads, a.batch_size, a.beta, a.warmup_batches)


def cmd_export_random(a):
    from .randombundle import export_random

    info = export_random(a.out, a.params, a.graph, a.reference_free, a.max_sequence_length, a.seed, a.name,
                         fused_attention=a.fused_attention)
    print(json.dumps(info))


def add_fused_attention_flag(s: argparse.ArgumentParser) -> None:
    s.add_argument("--no-fused-attention", dest="fused_attention", action="store_false",
                   help="plain ONNX attention ops instead of onnxruntime's fused MultiHeadAttention node "
                        "(for runtimes other than onnxruntime)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m implicit_prm", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    def preset_args(s):
        s.add_argument("--preset", default="arith-tiny", choices=["arith-tiny", "test"])
        s.add_argument("--threads", type=int, default=2)

    s = sub.add_parser("build", help="end-to-end rebuild of a bundle (train, evaluate, export, golden)")
    preset_args(s)
    s.add_argument("--name", default=None, help="bundle name (default: the preset's)")
    s.add_argument("--out", default=None, help="bundle folder (default: models/<name>)")
    s.add_argument("--work", default=None, help="work folder for checkpoints (default: trainer/runs/<name>)")
    s.add_argument("--golden-out", default="auto", help="golden fixture path ('auto': test/fixtures/golden/<name>.json; '' to skip)")
    s.add_argument("--force", action="store_true", help="redo every stage even if its output exists")
    for k in ("sft_steps", "rollout_problems", "rollout_samples", "eval_problems", "eval_samples", "seed"):
        s.add_argument("--" + k.replace("_", "-"), dest=k, type=int, default=None)
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("data", help="write problems with solutions (JSONL) for inspection")
    s.add_argument("--n", type=int, default=20)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--student", action="store_true", help="simulated-student solutions (with its mistakes)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_data)

    s = sub.add_parser("check", help="checker: final-answer correctness and first wrong step for JSONL {problem|prompt, steps}")
    s.add_argument("--in", dest="inp", required=True)
    s.add_argument("--out", default=None)
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("make-test-bundles", help="write the small random test bundles (+ golden files)")
    s.add_argument("--out", default=os.path.join(repo_root(), "test/fixtures/bundles"))
    s.add_argument("--golden-out", default=os.path.join(repo_root(), "test/fixtures/golden"))
    s.set_defaults(func=cmd_make_test_bundles)

    s = sub.add_parser("golden", help="golden fixture JSON for a bundle, computed in PyTorch")
    s.add_argument("--bundle", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--bundle-dir", default=None, help="value of the bundle_dir field (default: repo-relative path)")
    s.set_defaults(func=cmd_golden)

    s = sub.add_parser("score", help="reference scorer: step rewards for a JSONL file (PyTorch)")
    s.add_argument("--bundle", required=True)
    s.add_argument("--in", dest="inp", required=True, help='JSONL lines {"id","prompt","steps":[...]}')
    s.add_argument("--out", required=True)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--batch-size", type=int, default=16)
    s.add_argument("--beta", type=float, default=None, help="override the bundle's β")
    s.add_argument("--warmup-batches", type=int, default=0, help="untimed passes over the longest batch first")
    s.set_defaults(func=cmd_score)

    s = sub.add_parser("export-random", help="randomly initialised bundle of about --params parameters (benchmarks)")
    s.add_argument("--params", default="30M")
    s.add_argument("--out", required=True)
    s.add_argument("--graph", default="logprobs", choices=["logprobs", "logits"])
    s.add_argument("--reference-free", action="store_true")
    s.add_argument("--max-sequence-length", type=int, default=512)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--name", default=None)
    add_fused_attention_flag(s)
    s.set_defaults(func=cmd_export_random)

    from .hf_cli import add_commands

    add_commands(sub)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
