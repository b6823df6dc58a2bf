"""The build's outputs: the bundle (imported from the trained transformers checkpoints, which are
kept beside it), eval.json, REPORT.md with its figures, and the golden fixture."""
from __future__ import annotations

import json
import os
import shutil

from . import constants as C
from .evaluate import METHOD_TITLES
from .hf_import import ModelSource, TextFormat, import_bundle

CHECKPOINT_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                    "tokenizer_config.json", "special_tokens_map.json", "training.json")


def copy_checkpoint(src: str, dst: str) -> None:
    os.makedirs(dst, exist_ok=True)
    for f in CHECKPOINT_FILES:
        if os.path.exists(os.path.join(src, f)):
            shutil.copyfile(os.path.join(src, f), os.path.join(dst, f))


def provenance(summary: dict, preset) -> dict:
    ce = summary["methods"]["ce"]
    return {"training_data": "synthetic multi-step arithmetic (trainer/implicit_prm/data.py); reference: SFT on "
                             "simulated-student demonstrations with systematic bugs and random slips; PRM: reference "
                             "rollouts labelled by final-answer correctness only",
            "loss": "ce", "steps": summary["training"]["ce"]["best_step"], "seed": preset.seed,
            "transformers_checkpoints": {"policy": "transformers/policy", "reference": "transformers/reference"},
            "metrics": {"own_mistake_f1": ce["own"]["processbench"]["f1"],
                        "planted_error_f1": ce["planted"]["processbench"]["f1"],
                        "best_of_8_planted_pools": ce["planted"]["best_of_8_pools"]["min"],
                        "best_of_16_min": ce["own"]["best_of_n"]["min"].get("16"),
                        "majority_16": ce["own"]["best_of_n"]["majority"].get("16"),
                        "pass_at_1": ce["own"]["best_of_n"]["pass_at_1"]["1"], "threshold": ce["threshold"]}}


def write_bundle(summary: dict, preset, out_dir: str, policy_dir: str, reference_dir: str) -> dict:
    fmt = TextFormat(beta=preset.beta, step_separator=C.STEP_SEPARATOR, prompt_template=C.PROMPT_TEMPLATE,
                     use_chat_template=False, append_eos=C.APPEND_EOS, max_sequence_length=preset.max_sequence_length)
    manifest = import_bundle(ModelSource(policy_dir), ModelSource(reference_dir), out_dir, preset.name, fmt)
    copy_checkpoint(policy_dir, os.path.join(out_dir, "transformers", "policy"))
    copy_checkpoint(reference_dir, os.path.join(out_dir, "transformers", "reference"))
    # The provenance names the committed copies, not the build machine's work folder (the
    # fingerprint does not cover provenance).
    manifest["provenance"] = provenance(summary, preset)
    with open(os.path.join(out_dir, "prm.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
        f.write("\n")
    return manifest


def write_outputs(summary: dict, preset, out_dir: str, policy_dir: str, reference_dir: str, golden_out, bundle_dir_rel) -> None:
    from .report import write_report

    write_bundle(summary, preset, out_dir, policy_dir, reference_dir)
    with open(os.path.join(out_dir, "eval.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    write_report(summary, preset, out_dir)
    if golden_out:
        from .golden import write_golden
        write_golden(out_dir, golden_out, bundle_dir_rel or out_dir)


__all__ = ["write_outputs", "METHOD_TITLES"]
