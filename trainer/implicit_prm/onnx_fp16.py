"""float32 → float16 graphs for import (`--dtype fp16`): weights, activations and the KV cache in
float16, with the output head, the log-softmax and the gathered log-probs kept in float32.

Why those stay float32: an implicit reward is the difference of two close log-probabilities, and
a 150k-way softmax over float16 logits (11-bit mantissa, steps of 0.016 at 30) would round them
first. The output head is one matmul per token, a small share of the work.
"""
from __future__ import annotations

import onnx

from .onnx_logprobs import LOGITS, TARGET_LOGPROBS


def head_nodes(model: onnx.ModelProto) -> list:
    """The nodes from the last matmul producing `logits` onwards (the output head and log-softmax)."""
    producers = {out: n for n in model.graph.node for out in n.output}
    head = producers.get(LOGITS)
    blocked = [head.name] if head is not None and head.op_type in ("MatMul", "Gemm") else []
    return blocked + [n.name for n in model.graph.node if n.name.startswith("target_logprobs_")]


def to_float16(model: onnx.ModelProto) -> onnx.ModelProto:
    """A float16 copy of a float32 graph (weights must be loaded); log-prob output stays float32."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    keep = [o.name for o in model.graph.output if o.name == TARGET_LOGPROBS]
    converted = convert_float_to_float16(model, keep_io_types=keep or False, node_block_list=head_nodes(model))
    sort_nodes(converted.graph)  # the converter appends its Cast nodes at the end
    return converted


def sort_nodes(graph: onnx.GraphProto) -> None:
    """Orders the nodes so each comes after the producers of its inputs (ONNX requires it)."""
    ready = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        waiting = []
        for n in pending:
            if all(i in ready for i in n.input):
                ordered.append(n)
                ready.update(n.output)
            else:
                waiting.append(n)
        if len(waiting) == len(pending):
            raise ValueError(f"graph has a cycle or a missing input near {waiting[0].name}")
        pending = waiting
    del graph.node[:]
    graph.node.extend(ordered)


def kv_dtype(model: onnx.ModelProto) -> str:
    """"float32" or "float16": the element type of the graph's KV inputs."""
    past = next(i for i in model.graph.input if i.name == "past_key_values.0.key")
    return {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16"}.get(
        past.type.tensor_type.elem_type, onnx.TensorProto.DataType.Name(past.type.tensor_type.elem_type).lower())


def output_dtype(model: onnx.ModelProto, name: str) -> str:
    out = next(o for o in model.graph.output if o.name == name)
    return {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16"}[out.type.tensor_type.elem_type]
