"""Command-line wiring of `import` and `inspect` (the commands for Hugging Face models)."""
from __future__ import annotations

import argparse
import json
import os
import sys


def add_commands(sub) -> None:
    s = sub.add_parser("import", help="a bundle from Hugging Face models (transformers checkpoints or optimum exports)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Either --policy (a transformers checkpoint folder or model id) or --optimum-policy "
                                   "(an optimum-onnx text-generation-with-past export); likewise for the reference, "
                                   "or --reference-free.")
    s.add_argument("--policy", help="transformers checkpoint of the PRM (folder or hub id)")
    s.add_argument("--reference", help="transformers checkpoint of the reference model")
    s.add_argument("--optimum-policy", help="optimum-onnx export folder of the PRM")
    s.add_argument("--optimum-reference", help="optimum-onnx export folder of the reference")
    s.add_argument("--reference-free", action="store_true", help="no reference: ℓ_i = log πφ(t_i | t_<i)")
    s.add_argument("--out", required=True, help="bundle folder, e.g. models/NAME")
    s.add_argument("--name", default=None, help="bundle name (default: the --out folder's name)")
    s.add_argument("--graph", default="logprobs", choices=["logprobs", "logits"],
                   help="logprobs (default): log-softmax + gather inside the graph; logits: the graph as exported")
    s.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16"],
                   help="fp32 (default); fp16: float16 weights and KV, float32 log-probs; bf16: a bfloat16 "
                        "checkpoint in float32 graphs (onnxruntime's JavaScript API has no bfloat16 tensors)")
    s.add_argument("--preset", default=None, choices=["eurus-prm"],
                   help="the text conventions of a released model (hf_presets.py names each source); flags override")
    s.add_argument("--beta", type=float, default=None, help="β of the bundle (default 0.05)")
    s.add_argument("--step-separator", default=None, help='text between steps (default "\\n\\n")')
    s.add_argument("--prompt-template", default=None, help='"{prompt}" template when no chat template is used')
    s.add_argument("--chat-template", dest="use_chat_template", action="store_true", default=None,
                   help="render prompts with the tokenizer's chat template (default when it has one)")
    s.add_argument("--no-chat-template", dest="use_chat_template", action="store_false")
    s.add_argument("--append-eos", action="store_true", default=None, help="score the tokenizer's EOS after the last step")
    s.add_argument("--max-sequence-length", type=int, default=None, help="default: the model's max_position_embeddings")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("score-hf", help="reference scorer on transformers checkpoints, in a bundle's text format")
    s.add_argument("--policy", required=True, help="transformers checkpoint of the PRM")
    s.add_argument("--reference", default=None, help="transformers checkpoint of the reference (omit: reference-free)")
    s.add_argument("--bundle", required=True, help="the bundle whose prm.json gives β and the text format")
    s.add_argument("--in", dest="inp", required=True, help='JSONL lines {"id","prompt","steps":[...]}')
    s.add_argument("--out", required=True)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--batch-size", type=int, default=8)
    s.add_argument("--warmup-batches", type=int, default=0, help="untimed passes over the longest batch first")
    s.set_defaults(func=cmd_score_hf)

    s = sub.add_parser("random-hf", help="random transformers checkpoints (Llama, GQA) of about --params parameters (benchmarks)")
    s.add_argument("--params", default="30M")
    s.add_argument("--out", required=True, help="folder for policy/ and reference/")
    s.add_argument("--max-positions", type=int, default=1024)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_random_hf)

    s = sub.add_parser("inspect", help="a bundle's manifest, graph inputs/outputs, file sizes, fingerprint, tokenizer")
    s.add_argument("bundle")
    s.set_defaults(func=cmd_inspect)


def _source(plain, optimum, role):
    from .hf_import import BundleImportError, ModelSource

    if plain and optimum:
        raise BundleImportError(f"give --{role} or --optimum-{role}, not both")
    if not plain and not optimum:
        return None
    return ModelSource(optimum or plain, optimum=bool(optimum))


def text_format(a):
    from .hf_import import TextFormat

    from .hf_presets import PRESETS

    fmt = TextFormat(**(PRESETS[a.preset] if a.preset else {}))
    for key in ("beta", "step_separator", "prompt_template", "use_chat_template", "append_eos", "max_sequence_length"):
        value = getattr(a, key)
        if value is not None:
            setattr(fmt, key, value)
    return fmt


def cmd_import(a):
    from .hf_import import BundleImportError, import_bundle

    try:
        policy = _source(a.policy, a.optimum_policy, "policy")
        reference = _source(a.reference, a.optimum_reference, "reference")
        if policy is None:
            raise BundleImportError("--policy or --optimum-policy is required")
        if (reference is None) != a.reference_free:
            raise BundleImportError("give a reference (--reference or --optimum-reference) or --reference-free")
        name = a.name or os.path.basename(os.path.normpath(a.out))
        man = import_bundle(policy, reference, a.out, name, text_format(a), graph=a.graph, dtype=a.dtype)
    except BundleImportError as e:
        print(f"import: {e}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps({"bundle": a.out, "fingerprint": man["fingerprint"], "policy": man["policy"],
                      "reference": man["reference"]}, ensure_ascii=False))


def cmd_score_hf(a):
    from .hf_scoring import score_files

    score_files(a.policy, a.reference, a.bundle, a.inp, a.out, a.threads, a.batch_size, a.warmup_batches)


def cmd_random_hf(a):
    from .random_hf import make_random_checkpoints

    info = make_random_checkpoints(a.out, a.params, a.max_positions, a.seed)
    print(json.dumps({"out": a.out, "parameters": info["parameters"]}))


def cmd_inspect(a):
    from .inspect_bundle import inspect_bundle

    print(json.dumps(inspect_bundle(a.bundle), ensure_ascii=False, indent=2))
