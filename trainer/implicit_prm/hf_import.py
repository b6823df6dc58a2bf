"""`import`: a served bundle from Hugging Face models — transformers checkpoints (a local folder,
or a model id where the hub is reachable) or folders exported by optimum-onnx.

Each model becomes a `logprobs`-flavour graph (onnx_logprobs.py) with the KV interface of
ARCHITECTURE.md §2: past/present key/values of `num_key_value_heads` heads, so grouped-query models
keep their smaller cache. A transformers checkpoint is exported by optimum-onnx's own exporter
(`text-generation-with-past`, the layout the service reads), then rewritten; an optimum folder is
rewritten as it is (or copied, for `--graph logits`). The tokenizer files are written by the
tokenizer's own save, so checkpoints shipping only vocab/merges files work too.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Optional

import onnx

from . import constants as C
from .bundle import fingerprint
from .onnx_fp16 import kv_dtype, output_dtype, to_float16
from .onnx_logprobs import (LOGITS, TARGET_LOGPROBS, external_data_files, has_external_data, relocate_external_data,
                            rewrite_to_logprobs)

DTYPES = ("fp32", "fp16", "bf16")
# Graphs whose weights exceed this are written with their weights in a separate data file (the
# protobuf limit of one graph file is 2 GB).
EXTERNAL_DATA_BYTES = 1 << 30


class BundleImportError(ValueError):
    """A user-facing import failure (bad folder, mismatched tokenizers, unsupported graph)."""


@dataclass
class TextFormat:
    """How the service renders a trace for this model (prm.json fields, ARCHITECTURE.md §2)."""
    beta: float = C.DEFAULT_BETA
    step_separator: str = "\n\n"
    prompt_template: str = "{prompt}\n"
    use_chat_template: Optional[bool] = None  # None: use the tokenizer's chat template when it has one
    append_eos: bool = False
    max_sequence_length: Optional[int] = None  # None: the model's max_position_embeddings
    eos_token: Optional[str] = None  # None: the tokenizer's own eos_token
    step_boundaries: str = "prefix"  # "eos-separator": the EurusPRM model cards' rule (ARCHITECTURE.md §2)
    provenance: dict = field(default_factory=dict)


@dataclass
class ModelSource:
    path: str
    optimum: bool = False  # an optimum-onnx export folder rather than a transformers checkpoint


def model_shape(config) -> dict:
    """Layers, KV heads, head size, vocabulary and positions from a transformers config."""
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    weights = getattr(config, "torch_dtype", None) or getattr(config, "dtype", None) or "float32"
    return {
        "num_layers": config.num_hidden_layers,
        "num_heads": kv_heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "vocab_size": config.vocab_size,
        "max_position_embeddings": getattr(config, "max_position_embeddings", None),
        "architecture": (config.architectures or [config.model_type])[0],
        "shape": architecture_entry(config, heads, kv_heads, head_dim),
        "weights_dtype": str(weights).replace("torch.", ""),
    }


def architecture_entry(config, heads: int, kv_heads: int, head_dim: int) -> dict:
    """The shape facts FLOP accounting needs (prm.json `architecture` of an imported model)."""
    return {
        "type": "transformers", "model_type": config.model_type, "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size,
        "intermediate_size": getattr(config, "intermediate_size", 4 * config.hidden_size),
        "num_hidden_layers": config.num_hidden_layers, "num_attention_heads": heads,
        "num_key_value_heads": kv_heads, "head_dim": head_dim,
        # Llama, Qwen and Mistral MLPs are gated (gate, up and down projections) with SiLU.
        "gated_mlp": getattr(config, "hidden_act", None) in ("silu", "swish"),
    }


def tokenizer_identity(tok) -> dict:
    """What decides the ids a tokenizer produces: its model, normaliser, pre-tokeniser, added tokens."""
    spec = json.loads(tok.backend_tokenizer.to_str())
    return {k: spec.get(k) for k in ("model", "normalizer", "pre_tokenizer", "added_tokens", "post_processor")}


def check_same_tokenizer(policy_tok, reference_tok) -> None:
    a, b = tokenizer_identity(policy_tok), tokenizer_identity(reference_tok)
    differ = [k for k in a if a[k] != b[k]]
    if differ:
        raise BundleImportError(
            "policy and reference tokenizers differ (" + ", ".join(differ) + "): an implicit reward compares the two "
            "models' log-probs of the same token ids, so both must tokenize alike")


def load_tokenizer(src: ModelSource):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(src.path)
    except Exception as e:  # transformers raises OSError, ValueError, KeyError... for a bad folder
        raise BundleImportError(f"{src.path}: no usable tokenizer ({e})") from e


def load_config(src: ModelSource):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(src.path)
    except Exception as e:
        raise BundleImportError(f"{src.path}: no usable config.json ({e})") from e


def export_checkpoint(src: ModelSource, work: str) -> str:
    """optimum's ONNX export of a transformers checkpoint (logits flavour); returns the graph path."""
    from optimum.exporters.onnx import main_export

    main_export(src.path, output=work, task="text-generation-with-past", do_validation=False, no_post_process=True)
    return os.path.join(work, "model.onnx")


def optimum_graph(src: ModelSource) -> str:
    path = os.path.join(src.path, "model.onnx")
    if not os.path.exists(path):
        raise BundleImportError(f"{src.path}: no model.onnx (export with optimum-cli export onnx --task text-generation-with-past)")
    return path


def write_graph(graph_path: str, out_dir: str, role: str, graph: str, fp16: bool,
                external_data_bytes: int = EXTERNAL_DATA_BYTES) -> str:
    """Writes `<role>.onnx` (and `<role>.onnx_data` when the weights are external) into out_dir.
    Only a float32 → float16 conversion loads the weights; otherwise the graph is edited alone."""
    convert = fp16 and kv_dtype(onnx.load(graph_path, load_external_data=False)) == "float32"
    model = onnx.load(graph_path, load_external_data=convert)
    if "past_key_values.0.key" not in {i.name for i in model.graph.input}:
        raise BundleImportError(f"{graph_path}: no past_key_values inputs (export with the text-generation-with-past task)")
    if graph == "logprobs":
        rewrite_to_logprobs(model)
    if convert:
        model = to_float16(model)
    onnx_name = f"{role}.onnx"
    if convert or not has_external_data(model):  # the weights are in memory: inline or in a data file
        save_with_weights(model, os.path.join(out_dir, onnx_name), external_data_bytes)
    else:
        save_referencing_data(model, graph_path, out_dir, onnx_name)
    onnx.checker.check_model(os.path.join(out_dir, onnx_name))
    return onnx_name


def save_with_weights(model: onnx.ModelProto, path: str, external_data_bytes: int) -> None:
    """Saves a graph whose weights are in memory: inline, or in `<name>_data` when they are large."""
    if model.ByteSize() <= external_data_bytes:
        onnx.save(model, path)
        return
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
              location=os.path.basename(path) + "_data", size_threshold=1024)


def save_referencing_data(model: onnx.ModelProto, graph_path: str, out_dir: str, onnx_name: str) -> None:
    """Saves an edited graph whose weights stayed on disk: their data file is copied beside it."""
    data = external_data_files(model)
    if len(data) > 1:
        raise BundleImportError(f"{graph_path}: weights spread over {len(data)} data files; one is supported")
    if data:
        relocate_external_data(model, data[0], onnx_name + "_data")
        shutil.copyfile(os.path.join(os.path.dirname(graph_path), data[0]), os.path.join(out_dir, onnx_name + "_data"))
    onnx.save(model, os.path.join(out_dir, onnx_name))


def check_graph_shape(path: str, shape: dict, what: str) -> None:
    """The graph's KV inputs must have the head count and head size the config states."""
    model = onnx.load(path, load_external_data=False)
    past = next(i for i in model.graph.input if i.name == "past_key_values.0.key")
    dims = [d.dim_value or d.dim_param for d in past.type.tensor_type.shape.dim]
    want = [shape["num_key_value_heads"], shape["head_dim"]]
    if [dims[1], dims[3]] != want:
        raise BundleImportError(f"{what}: past_key_values.0.key is {dims}, but config.json implies [batch, {want[0]}, past, {want[1]}]")
    layers = sum(1 for i in model.graph.input if i.name.startswith("past_key_values.") and i.name.endswith(".key"))
    if layers != shape["num_layers"]:
        raise BundleImportError(f"{what}: {layers} past_key_values layers, config.json says {shape['num_layers']}")


def save_tokenizer(tok, out_dir: str, max_sequence_length: int, eos_token: Optional[str] = None) -> None:
    """tokenizer.json + tokenizer_config.json, with the chat template inside the config (where the
    service reads it), whatever file this transformers version saves it to."""
    with tempfile.TemporaryDirectory() as d:
        tok.save_pretrained(d)
        if not os.path.exists(os.path.join(d, "tokenizer.json")):
            raise BundleImportError("the tokenizer has no fast (tokenizers-library) form; the service needs tokenizer.json")
        with open(os.path.join(d, "tokenizer_config.json"), encoding="utf-8") as f:
            config = json.load(f)
        if tok.chat_template and "chat_template" not in config:
            config["chat_template"] = tok.chat_template
        config["model_max_length"] = max_sequence_length
        if eos_token is not None:
            if tok.convert_tokens_to_ids(eos_token) in (None, tok.unk_token_id):
                raise BundleImportError(f"the end-of-sequence token {eos_token!r} is not in the tokenizer's vocabulary")
            config["eos_token"] = eos_token
        shutil.copyfile(os.path.join(d, "tokenizer.json"), os.path.join(out_dir, "tokenizer.json"))
        with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False, indent=2)


def model_entry(out_dir: str, onnx_name: str, graph: str, shape: dict) -> dict:
    model = onnx.load(os.path.join(out_dir, onnx_name), load_external_data=False)
    scores = TARGET_LOGPROBS if graph == "logprobs" else LOGITS
    return {"onnx": onnx_name, "external_data": external_data_files(model),
            "graph": graph, "num_layers": shape["num_layers"], "num_heads": shape["num_heads"],
            "num_key_value_heads": shape["num_key_value_heads"], "head_dim": shape["head_dim"],
            "vocab_size": shape["vocab_size"], "dtype": kv_dtype(model), f"{scores}_dtype": output_dtype(model, scores),
            "weights_dtype": shape["weights_dtype"], "source_architecture": shape["architecture"],
            "architecture": shape["shape"]}


def import_model(src: ModelSource, out_dir: str, role: str, graph: str, dtype: str, work: str,
                 external_data_bytes: int = EXTERNAL_DATA_BYTES) -> tuple:
    shape = model_shape(load_config(src))
    graph_path = optimum_graph(src) if src.optimum else export_checkpoint(src, os.path.join(work, role))
    check_graph_shape(graph_path, shape, f"{role} ({src.path})")
    onnx_name = write_graph(graph_path, out_dir, role, graph, dtype == "fp16", external_data_bytes)
    return model_entry(out_dir, onnx_name, graph, shape), shape


def sequence_limit(fmt: TextFormat, shapes: list) -> int:
    limits = [s["max_position_embeddings"] for s in shapes if s["max_position_embeddings"]]
    model_limit = min(limits) if limits else None
    if fmt.max_sequence_length is None:
        if model_limit is None:
            raise BundleImportError("config.json has no max_position_embeddings: pass --max-sequence-length")
        return model_limit
    if model_limit is not None and fmt.max_sequence_length > model_limit:
        raise BundleImportError(f"--max-sequence-length {fmt.max_sequence_length} exceeds the model's max_position_embeddings {model_limit}")
    return fmt.max_sequence_length


def import_bundle(policy: ModelSource, reference: Optional[ModelSource], out_dir: str, name: str,
                  fmt: TextFormat, graph: str = "logprobs", dtype: str = "fp32",
                  external_data_bytes: int = EXTERNAL_DATA_BYTES) -> dict:
    """Writes the bundle folder and returns its manifest. `dtype`: fp32 graphs, fp16 graphs (float16
    weights and KV, float32 log-probs), or bf16 — float32 graphs from a bfloat16 checkpoint, since
    onnxruntime's JavaScript API has no bfloat16 tensors (its weights keep their bfloat16 values).
    Graphs whose weights exceed `external_data_bytes` keep them in `<role>.onnx_data`."""
    if dtype not in DTYPES:
        raise BundleImportError(f"--dtype must be one of {', '.join(DTYPES)} (got {dtype!r})")
    tok = load_tokenizer(policy)
    if reference is not None:
        check_same_tokenizer(tok, load_tokenizer(reference))
    os.makedirs(out_dir, exist_ok=True)
    for stale in ("policy.onnx", "policy.onnx_data", "reference.onnx", "reference.onnx_data"):
        if os.path.exists(os.path.join(out_dir, stale)):
            os.remove(os.path.join(out_dir, stale))
    with tempfile.TemporaryDirectory() as work:
        pol_entry, pol_shape = import_model(policy, out_dir, "policy", graph, dtype, work, external_data_bytes)
        ref = import_model(reference, out_dir, "reference", graph, dtype, work, external_data_bytes) if reference is not None else None
    if ref is not None and ref[1]["vocab_size"] != pol_shape["vocab_size"]:
        raise BundleImportError(f"vocab sizes differ: policy {pol_shape['vocab_size']}, reference {ref[1]['vocab_size']}")
    max_len = sequence_limit(fmt, [pol_shape] + ([ref[1]] if ref else []))
    save_tokenizer(tok, out_dir, max_len, fmt.eos_token)
    use_chat = bool(tok.chat_template) if fmt.use_chat_template is None else fmt.use_chat_template
    if use_chat and not tok.chat_template:
        raise BundleImportError("--chat-template asked for, but the tokenizer has no chat template")
    manifest = {
        "format": C.FORMAT, "format_version": C.FORMAT_VERSION, "name": name, "beta": fmt.beta,
        "policy": pol_entry,
        "reference": ref[0] if ref else None,
        "tokenizer": {"tokenizer_json": "tokenizer.json", "tokenizer_config": "tokenizer_config.json"},
        "step_separator": fmt.step_separator, "prompt_template": "" if use_chat else fmt.prompt_template,
        "use_chat_template": use_chat, "append_eos": fmt.append_eos, "step_boundaries": fmt.step_boundaries,
        "max_sequence_length": max_len,
        "provenance": {"imported_from": {"policy": policy.path, "reference": reference.path if reference else None},
                       **fmt.provenance},
    }
    manifest["fingerprint"] = fingerprint(out_dir, manifest)
    with open(os.path.join(out_dir, "prm.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
        f.write("\n")
    return manifest
