"""`inspect`: what a bundle folder holds — its manifest, each graph's inputs and outputs with dtypes
and shapes, file sizes (external data included), the fingerprint as stored and as recomputed, and
whether the tokenizer covers both models' vocabularies."""
from __future__ import annotations

import json
import os

import onnx
from onnx import TensorProto

from .bundle import fingerprint, read_manifest
from .onnx_logprobs import external_data_files


def _tensor(v: onnx.ValueInfoProto) -> dict:
    t = v.type.tensor_type
    return {"name": v.name, "dtype": TensorProto.DataType.Name(t.elem_type).lower(),
            "shape": [d.dim_param or d.dim_value for d in t.shape.dim]}


def describe_graph(bundle_dir: str, onnx_name: str) -> dict:
    path = os.path.join(bundle_dir, onnx_name)
    model = onnx.load(path, load_external_data=False)
    files = {onnx_name: os.path.getsize(path)}
    for f in external_data_files(model):
        files[f] = os.path.getsize(os.path.join(bundle_dir, f))
    return {
        "inputs": [_tensor(i) for i in model.graph.input],
        "outputs": [_tensor(o) for o in model.graph.output],
        "opset": {o.domain or "ai.onnx": o.version for o in model.opset_import},
        "files": files,
    }


def tokenizer_summary(bundle_dir: str, manifest: dict) -> dict:
    with open(os.path.join(bundle_dir, manifest["tokenizer"]["tokenizer_json"]), encoding="utf-8") as f:
        spec = json.load(f)
    vocab = spec["model"]["vocab"]
    pieces = set(vocab) if isinstance(vocab, dict) else {p[0] for p in vocab}  # BPE/WordPiece dict, Unigram list
    size = len(pieces | {t["content"] for t in spec.get("added_tokens", [])})
    vocabs = {role: manifest[role]["vocab_size"] for role in ("policy", "reference") if manifest.get(role)}
    # One tokenizer serves both models (import refuses a pair that tokenizes differently); what can
    # still go wrong is a model whose vocabulary is smaller than the tokenizer's ids.
    return {"model": spec["model"]["type"], "tokens": size, "model_vocab_sizes": vocabs,
            "models_agree_on_vocab": len(set(vocabs.values())) == 1,
            "ids_fit_every_model": all(size <= v for v in vocabs.values())}


def inspect_bundle(bundle_dir: str) -> dict:
    man = read_manifest(bundle_dir)
    graphs = {role: describe_graph(bundle_dir, man[role]["onnx"]) for role in ("policy", "reference") if man.get(role)}
    stored = man.get("fingerprint")
    recomputed = fingerprint(bundle_dir, man)
    sizes = {f: os.path.getsize(os.path.join(bundle_dir, f)) for f in sorted(os.listdir(bundle_dir))
             if os.path.isfile(os.path.join(bundle_dir, f))}
    return {
        "bundle": os.path.abspath(bundle_dir), "manifest": man, "graphs": graphs, "file_sizes": sizes,
        "fingerprint": {"stored": stored, "recomputed": recomputed, "matches": stored in (None, recomputed)},
        "tokenizer": tokenizer_summary(bundle_dir, man),
    }
