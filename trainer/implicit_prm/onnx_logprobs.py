"""Rewrites a `logits`-flavour causal-LM graph (Hugging Face optimum's `text-generation-with-past`
layout) into the `logprobs` flavour of ARCHITECTURE.md §2: a `target_ids` input [B, S] and a
`target_logprobs` output [B, S] = log_softmax(logits)[b, s, target_ids[b, s]] in place of `logits`,
computed and returned in float32 for float16 graphs too.

The [B, S, V] tensor then stays inside onnxruntime: with a 152k vocabulary it is 1.2 GiB per pass
at the service's default token budget, which a caller would otherwise fetch and log-softmax itself.

The graph is edited without its weights: external data files are neither read nor rewritten, so a
multi-GB model is rewritten in the memory of its graph structure alone. Initializers keep their
`location` entries, which are resolved relative to the graph file, so the rewritten graph must sit
next to (a copy of) the original data file.
"""
from __future__ import annotations

import os

import onnx
from onnx import TensorProto, helper

LOGITS = "logits"
TARGET_IDS = "target_ids"
TARGET_LOGPROBS = "target_logprobs"


class GraphRewriteError(ValueError):
    pass


def _value_info(graph: onnx.GraphProto, name: str) -> onnx.ValueInfoProto:
    for v in graph.output:
        if v.name == name:
            return v
    raise GraphRewriteError(f'the graph has no "{name}" output (outputs: {[o.name for o in graph.output]})')


def _dims(v: onnx.ValueInfoProto) -> list:
    return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]


def _opset(model: onnx.ModelProto) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)


def rewrite_to_logprobs(model: onnx.ModelProto) -> onnx.ModelProto:
    """Edits `model` in place (and returns it): logits output → target_logprobs output."""
    g = model.graph
    if any(i.name == TARGET_IDS for i in g.input):
        raise GraphRewriteError("the graph already has a target_ids input (it is a logprobs graph)")
    if _opset(model) < 13:
        raise GraphRewriteError(f"opset {_opset(model)} is older than 13, which this rewrite needs (axes as inputs)")
    logits = _value_info(g, LOGITS)
    dims = _dims(logits)
    if len(dims) != 3:
        raise GraphRewriteError(f'"logits" has rank {len(dims)}, expected 3 ([batch, sequence, vocab])')
    float_type = logits.type.tensor_type.elem_type
    batch, seq = dims[0] or "batch_size", dims[1] or "sequence_length"

    g.input.append(helper.make_tensor_value_info(TARGET_IDS, TensorProto.INT64, [batch, seq]))
    axes = helper.make_tensor("target_logprobs_axes", TensorProto.INT64, [1], [-1])
    g.initializer.append(axes)
    # Softmax in float32 even for fp16 graphs: a 152k-way normaliser in fp16 loses the small
    # log-probabilities that implicit rewards are differences of.
    source = LOGITS
    if float_type != TensorProto.FLOAT:
        g.node.append(helper.make_node("Cast", [LOGITS], ["logits_float32"], to=TensorProto.FLOAT, name="target_logprobs_cast_in"))
        source = "logits_float32"
    g.node.extend([
        helper.make_node("LogSoftmax", [source], ["all_logprobs"], axis=-1, name="target_logprobs_log_softmax"),
        helper.make_node("Unsqueeze", [TARGET_IDS, axes.name], ["target_ids_column"], name="target_logprobs_unsqueeze"),
        helper.make_node("GatherElements", ["all_logprobs", "target_ids_column"], ["target_logprobs_column"], axis=-1,
                         name="target_logprobs_gather"),
    ])
    # The gathered log-probs leave the graph as float32 whatever the graph's own float type: they
    # are differenced into rewards, where float16 rounding (steps of 0.004 at -5) would show.
    g.node.append(helper.make_node("Squeeze", ["target_logprobs_column", axes.name], [TARGET_LOGPROBS], name="target_logprobs_squeeze"))

    outputs = [o for o in g.output if o.name != LOGITS]
    del g.output[:]
    g.output.append(helper.make_tensor_value_info(TARGET_LOGPROBS, TensorProto.FLOAT, [batch, seq]))
    g.output.extend(outputs)
    return model


def target_logprobs_model() -> onnx.ModelProto:
    """The same computation as a graph of its own: logits [B, S, V] float32 and target_ids [B, S]
    in, target_logprobs [B, S] out. The service runs it on the logits that `logits`-flavour graphs
    return (src/engine/target-logprobs-graph.ts embeds its bytes; a test keeps the two equal)."""
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [-1])
    graph = helper.make_graph(
        [helper.make_node("LogSoftmax", [LOGITS], ["all_logprobs"], axis=-1),
         helper.make_node("Unsqueeze", [TARGET_IDS, "axes"], ["target_ids_column"]),
         helper.make_node("GatherElements", ["all_logprobs", "target_ids_column"], ["target_logprobs_column"], axis=-1),
         helper.make_node("Squeeze", ["target_logprobs_column", "axes"], [TARGET_LOGPROBS])],
        "target_logprobs",
        [helper.make_tensor_value_info(LOGITS, TensorProto.FLOAT, ["batch", "sequence", "vocab"]),
         helper.make_tensor_value_info(TARGET_IDS, TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info(TARGET_LOGPROBS, TensorProto.FLOAT, ["batch", "sequence"])],
        [axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="implicit-prm")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def rewrite_file(src: str, dst: str) -> None:
    """Rewrites the graph file `src` into `dst` (same folder as its external data, if any)."""
    model = onnx.load(src, load_external_data=False)
    rewrite_to_logprobs(model)
    onnx.save(model, dst)
    onnx.checker.check_model(dst)  # by path: external data and graphs over 2 GB are checked too


def all_tensors(graph: onnx.GraphProto):
    """Every stored tensor of a graph: initializers and Constant-style attribute values, subgraphs
    included (exporters put large constants in either place)."""
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from all_tensors(attr.g)
            for sub in attr.graphs:
                yield from all_tensors(sub)


def has_external_data(model: onnx.ModelProto) -> bool:
    return any(t.data_location == TensorProto.EXTERNAL for t in all_tensors(model.graph))


def external_data_files(model: onnx.ModelProto) -> list:
    """The data files the graph's tensors point to (relative to the graph file)."""
    files = []
    for t in all_tensors(model.graph):
        if t.data_location == TensorProto.EXTERNAL:
            loc = next((e.value for e in t.external_data if e.key == "location"), None)
            if loc and loc not in files:
                files.append(loc)
    return files


def relocate_external_data(model: onnx.ModelProto, old: str, new: str) -> None:
    """Points every tensor stored in data file `old` at `new` (the file itself is not touched)."""
    for t in all_tensors(model.graph):
        for e in t.external_data:
            if e.key == "location" and e.value == old:
                e.value = new


def graph_size(path: str) -> int:
    """Bytes of the graph file plus its external data files."""
    model = onnx.load(path, load_external_data=False)
    folder = os.path.dirname(path)
    return os.path.getsize(path) + sum(os.path.getsize(os.path.join(folder, f)) for f in external_data_files(model))
