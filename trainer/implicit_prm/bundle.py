"""Bundle folder (ARCHITECTURE.md §2): ONNX export in two flavours, prm.json, tokenizer files, fingerprint,
and loading a bundle back into PyTorch (from the ONNX initializers + the `architecture` entry)."""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn

from . import constants as C
from .model import GPT, ModelConfig
from .tokenizer import CharTokenizer

OPSET = 17
GRAPHS = ("logits", "logprobs")


def input_names(n_layers: int, graph: str) -> List[str]:
    names = ["input_ids", "attention_mask", "position_ids"]
    for i in range(n_layers):
        names += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
    if graph == "logprobs":
        names.append("target_ids")
    return names


def output_names(n_layers: int, graph: str, new_kv_outputs: bool = False) -> List[str]:
    names = ["logits" if graph == "logits" else "target_logprobs"]
    for i in range(n_layers):
        names += [f"present.{i}.key", f"present.{i}.value"]
    if new_kv_outputs:
        for i in range(n_layers):
            names += [f"new_key_values.{i}.key", f"new_key_values.{i}.value"]
    return names


class ExportWrapper(nn.Module):
    """`new_kv_outputs`: also output the key/values of this pass's tokens alone ([B, H, S, D], the last
    S positions of `present`), so a caller keeping a row's KV need not fetch its whole past back."""

    def __init__(self, model: GPT, graph: str, fused_attention: bool, new_kv_outputs: bool):
        super().__init__()
        assert graph in GRAPHS
        self.model = model
        self.graph = graph
        self.fused_attention = fused_attention
        self.new_kv_outputs = new_kv_outputs

    def forward(self, input_ids, attention_mask, position_ids, *rest):
        L = self.model.cfg.n_layers
        past = [(rest[2 * i], rest[2 * i + 1]) for i in range(L)]
        logits, presents = self.model(input_ids, attention_mask, position_ids, past, fused_attention=self.fused_attention)
        if self.graph == "logits":
            first = logits
        else:
            target_ids = rest[2 * L]
            logp = torch.log_softmax(logits, dim=-1)
            first = torch.gather(logp, -1, target_ids.unsqueeze(-1)).squeeze(-1)
        out = [first]
        for k, v in presents:
            out += [k, v]
        if self.new_kv_outputs:
            P = past[0][0].shape[2]
            for k, v in presents:
                out += [k[:, :, P:, :], v[:, :, P:, :]]
        return tuple(out)


def export_onnx(model: GPT, path: str, graph: str, fused_attention: bool = True, new_kv_outputs: bool = True) -> None:
    """Exports with KV-cache inputs/outputs and dynamic batch / sequence / past axes; checks it.
    `fused_attention`: one onnxruntime MultiHeadAttention node per layer (fused_attention.py);
    `new_kv_outputs`: the optional `new_key_values.{i}.*` outputs (ExportWrapper)."""
    import onnx

    model = model.eval()
    cfg = model.cfg
    B, S, P = 2, 3, 2
    ids = torch.randint(0, cfg.vocab_size, (B, S))
    mask = torch.ones(B, P + S, dtype=torch.long)
    pos = torch.arange(P, P + S).unsqueeze(0).expand(B, S).contiguous()
    past = []
    for _ in range(cfg.n_layers):
        past += [torch.randn(B, cfg.n_heads, P, cfg.head_dim), torch.randn(B, cfg.n_heads, P, cfg.head_dim)]
    args = [ids, mask, pos] + past
    if graph == "logprobs":
        args.append(torch.randint(0, cfg.vocab_size, (B, S)))
    ins, outs = input_names(cfg.n_layers, graph), output_names(cfg.n_layers, graph, new_kv_outputs)
    dyn: Dict[str, Dict[int, str]] = {
        "input_ids": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "past_sequence_length + sequence_length"},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
    }
    for i in range(cfg.n_layers):
        for kv in ("key", "value"):
            dyn[f"past_key_values.{i}.{kv}"] = {0: "batch_size", 2: "past_sequence_length"}
            dyn[f"present.{i}.{kv}"] = {0: "batch_size", 2: "past_sequence_length + sequence_length"}
            if new_kv_outputs:
                dyn[f"new_key_values.{i}.{kv}"] = {0: "batch_size", 2: "sequence_length"}
    if graph == "logprobs":
        dyn["target_ids"] = {0: "batch_size", 1: "sequence_length"}
        dyn["target_logprobs"] = {0: "batch_size", 1: "sequence_length"}
    else:
        dyn["logits"] = {0: "batch_size", 1: "sequence_length"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            torch.onnx.export(
                ExportWrapper(model, graph, fused_attention, new_kv_outputs), tuple(args), path, input_names=ins, output_names=outs,
                dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=True,
                custom_opsets={"com.microsoft": 1} if fused_attention else None,
                # The TorchScript exporter, chosen on purpose: the fused attention node is a
                # symbolic function (fused_attention.py), which only this exporter runs, and its
                # graphs match the committed fixtures op for op.
                dynamo=False,
            )
    m = onnx.load(path)
    onnx.checker.check_model(m)
    got_in = [i.name for i in m.graph.input]
    got_out = [o.name for o in m.graph.output]
    assert got_in == ins, f"ONNX inputs {got_in} != {ins}"
    assert got_out == outs, f"ONNX outputs {got_out} != {outs}"
    named = onnx_named_tensors(m)
    missing = [k for k in model.state_dict() if k not in named]
    assert not missing, f"state_dict entries not kept as named ONNX initializers: {missing[:5]}"


def onnx_named_tensors(m) -> Dict[str, "np.ndarray"]:
    """Initializers by state_dict name. The exporter prefixes names with the wrapper's attribute
    ("model.") and replaces duplicate-valued initializers by Identity nodes (output = the duplicate's
    name), so both are undone here."""
    from onnx import numpy_helper

    arrays = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    for node in m.graph.node:
        if node.op_type == "Identity" and node.input[0] in arrays:
            arrays[node.output[0]] = arrays[node.input[0]]
    out = {}
    for k, v in arrays.items():
        out[k[len("model."):] if k.startswith("model.") else k] = v
    return out


def fingerprint_files(manifest: dict) -> List[str]:
    """The files hashed, in recipe order: each graph followed by its external data files."""
    files = [manifest["policy"]["onnx"], *manifest["policy"].get("external_data", [])]
    if manifest.get("reference"):
        files += [manifest["reference"]["onnx"], *manifest["reference"].get("external_data", [])]
    return files + [manifest["tokenizer"]["tokenizer_json"], manifest["tokenizer"]["tokenizer_config"]]


def fingerprint(bundle_dir: str, manifest: dict) -> str:
    """ARCHITECTURE.md §2; files are read in chunks (weights may be many GB)."""
    h = hashlib.sha256()
    for fn in fingerprint_files(manifest):
        with open(os.path.join(bundle_dir, fn), "rb") as f:
            for chunk in iter(lambda: f.read(4 << 20), b""):
                h.update(chunk)
    tail = [manifest["step_separator"], manifest["prompt_template"], manifest["use_chat_template"], manifest["append_eos"]]
    h.update(json.dumps(tail, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    return "sha256:" + h.hexdigest()


def model_entry(cfg: ModelConfig, onnx_name: str, graph: str) -> dict:
    return {
        "onnx": onnx_name, "graph": graph, "num_layers": cfg.n_layers, "num_heads": cfg.n_heads,
        "head_dim": cfg.head_dim, "vocab_size": cfg.vocab_size,
        "architecture": {"type": "gpt-prenorm-learnedpos", **cfg.to_dict()},
    }


def write_bundle(
    out_dir: str, name: str, policy: GPT, reference: Optional[GPT], tokenizer: CharTokenizer,
    graph: str = "logprobs", beta: float = C.DEFAULT_BETA, max_sequence_length: int = 512,
    provenance: Optional[dict] = None, fused_attention: bool = True, new_kv_outputs: bool = True,
) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    for stale in ("policy.onnx", "reference.onnx"):
        if os.path.exists(os.path.join(out_dir, stale)):
            os.remove(os.path.join(out_dir, stale))
    export_onnx(policy, os.path.join(out_dir, "policy.onnx"), graph, fused_attention, new_kv_outputs)
    if reference is not None:
        export_onnx(reference, os.path.join(out_dir, "reference.onnx"), graph, fused_attention, new_kv_outputs)
    tokenizer.model_max_length = max_sequence_length
    tokenizer.save(out_dir)
    manifest = {
        "format": C.FORMAT,
        "format_version": C.FORMAT_VERSION,
        "name": name,
        "beta": beta,
        "policy": model_entry(policy.cfg, "policy.onnx", graph),
        "reference": model_entry(reference.cfg, "reference.onnx", graph) if reference is not None else None,
        "tokenizer": {"tokenizer_json": "tokenizer.json", "tokenizer_config": "tokenizer_config.json"},
        "step_separator": C.STEP_SEPARATOR,
        "prompt_template": C.PROMPT_TEMPLATE,
        "use_chat_template": C.USE_CHAT_TEMPLATE,
        "append_eos": C.APPEND_EOS,
        "max_sequence_length": max_sequence_length,
        "provenance": provenance or {},
    }
    manifest["fingerprint"] = fingerprint(out_dir, manifest)
    with open(os.path.join(out_dir, "prm.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
        f.write("\n")
    return manifest


def read_manifest(bundle_dir: str) -> dict:
    with open(os.path.join(bundle_dir, "prm.json"), encoding="utf-8") as f:
        return json.load(f)


def model_from_onnx(path: str, entry: dict) -> GPT:
    """Rebuilds the torch model from the ONNX initializers (named like the state_dict)."""
    import onnx

    arch = entry.get("architecture")
    if not arch or arch.get("type") == "transformers":
        raise ValueError(f"{path}: not a bundle of the trainer's own model; score its transformers checkpoints with score-hf")
    model = GPT(ModelConfig.from_dict(arch))
    m = onnx.load(path)
    inits = onnx_named_tensors(m)
    sd = {}
    for k, v in model.state_dict().items():
        if k not in inits:
            raise ValueError(f"{path}: initializer {k} missing")
        arr = np.array(inits[k])
        if tuple(arr.shape) != tuple(v.shape):
            raise ValueError(f"{path}: {k} has shape {arr.shape}, expected {tuple(v.shape)}")
        sd[k] = torch.from_numpy(arr.copy())
    model.load_state_dict(sd)
    return model.eval()


def load_bundle(bundle_dir: str) -> Tuple[dict, GPT, Optional[GPT], CharTokenizer]:
    man = read_manifest(bundle_dir)
    pol = model_from_onnx(os.path.join(bundle_dir, man["policy"]["onnx"]), man["policy"])
    ref = None
    if man.get("reference"):
        ref = model_from_onnx(os.path.join(bundle_dir, man["reference"]["onnx"]), man["reference"])
    tok = CharTokenizer.load(bundle_dir)
    return man, pol, ref, tok
