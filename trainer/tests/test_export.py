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
