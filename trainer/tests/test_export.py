"""ONNX export forms: attention fused into onnxruntime's MultiHeadAttention node (default) or plain
ops; with (default) or without the new_key_values outputs."""
import onnx
import pytest
import torch

from implicit_prm.bundle import export_onnx, input_names, model_from_onnx, output_names
from implicit_prm.model import GPT, ModelConfig


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(3)
    return GPT(ModelConfig(vocab_size=40, d_model=32, n_layers=3, n_heads=4, d_ff=64, max_seq_len=64, init_std=0.3)).eval()


@pytest.mark.parametrize("fused,new_kv", [(True, True), (False, False), (False, True)])
def test_export_form_interface_and_weights(model, fused, new_kv, tmp_path):
    path = str(tmp_path / "m.onnx")
    export_onnx(model, path, "logprobs", fused_attention=fused, new_kv_outputs=new_kv)
    m = onnx.load(path)
    ops = [(n.domain, n.op_type) for n in m.graph.node]
    mha = ops.count(("com.microsoft", "MultiHeadAttention"))
    softmax = ops.count(("", "Softmax"))
    if fused:
        # One fused node per layer, and no attention softmax left over.
        assert mha == 3 and softmax == 0
        assert any(o.domain == "com.microsoft" for o in m.opset_import)
    else:
        assert mha == 0 and softmax == 3
    assert [i.name for i in m.graph.input] == input_names(3, "logprobs")
    names = [o.name for o in m.graph.output]
    assert names == output_names(3, "logprobs", new_kv)
    assert ("new_key_values.2.value" in names) == new_kv
    # The weights stay named initializers, so the reference scorer rebuilds the same model from either form.
    entry = {"num_layers": 3, "num_heads": 4, "head_dim": 8, "vocab_size": 40,
             "architecture": {"type": "gpt-prenorm-learnedpos", **model.cfg.to_dict()}}
    back = model_from_onnx(path, entry)
    ids = torch.randint(0, 40, (2, 9))
    with torch.no_grad():
        assert torch.equal(back(ids), model(ids))


def test_service_embeds_the_target_logprobs_graph():
    """src/engine/target-logprobs-graph.ts carries target_logprobs_model()'s bytes, and the graph
    gives log_softmax + gather as numpy computes them."""
    import base64
    import os
    import re

    import numpy as np
    import onnxruntime as ort

    from implicit_prm.onnx_logprobs import target_logprobs_model

    ts = open(os.path.join(os.path.dirname(__file__), "..", "..", "src", "engine", "target-logprobs-graph.ts")).read()
    embedded = base64.b64decode(re.search(r"Buffer\.from\(\s*'([A-Za-z0-9+/=]+)'", ts).group(1))
    assert embedded == target_logprobs_model().SerializeToString()
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 5, (2, 3, 50)).astype(np.float32)
    targets = rng.integers(0, 50, (2, 3)).astype(np.int64)
    got = ort.InferenceSession(embedded, providers=["CPUExecutionProvider"]).run(None, {"logits": logits, "target_ids": targets})[0]
    shifted = logits.astype(np.float64) - logits.max(-1, keepdims=True)
    want = np.take_along_axis(shifted - np.log(np.exp(shifted).sum(-1, keepdims=True)), targets[..., None], -1)[..., 0]
    np.testing.assert_allclose(got, want, atol=1e-5)
