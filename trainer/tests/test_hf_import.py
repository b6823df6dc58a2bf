"""`import` of Hugging Face models, checked against transformers itself: tiny random Qwen2 (grouped-
query attention, QKV bias), Llama, Mistral and Qwen3 models saved with save_pretrained; after import
the ONNX log-probs equal transformers' forward (log_softmax + gather over the whole sequence) within
1e-5, in one pass, after a past, and with right padding and a padded past as the service batches."""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from hf_models import Graph, byte_level_tokenizer, npm_tokenizer, save_model
from implicit_prm.hf_import import BundleImportError, ModelSource, TextFormat, import_bundle

TOL = 1e-5
TEXTS = ["Problem: 48+27-19\nSolution:\n48+27=75\n\n75-19=56\n\nAnswer: 56", "Step 1: x = 5\n\nStep 2: y = x + 1 and more"]


@pytest.fixture(scope="module")
def tokenizer():
    return byte_level_tokenizer()


def transformers_logprobs(folder, ids):
    """log πθ(t_i | t_<i) for i ≥ 1 from transformers' own forward (the oracle)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()
    return torch.log_softmax(logits[:-1], -1).gather(-1, torch.tensor(ids[1:])[:, None])[:, 0].numpy()


def encode(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def check_against_transformers(bundle, role, folder, tok, tol=TOL):
    graph = Graph(os.path.join(bundle, f"{role}.onnx"))
    seqs = [encode(tok, t) for t in TEXTS]
    want = [transformers_logprobs(folder, s) for s in seqs]
    # One pass, right-padded batch: position s predicts token s+1.
    got, _ = graph.run(seqs)
    for b, s in enumerate(seqs):
        np.testing.assert_allclose(got[b, :len(s) - 1], want[b], atol=tol, rtol=0)
    # A past of different real lengths per row (row 1's past padded), then the rest.
    cut = [5, 3]
    heads = [s[:c] for s, c in zip(seqs, cut)]
    _, past = graph.run(heads)
    past_mask = np.array([[1] * 5, [1] * 3 + [0] * 2], np.int64)
    tails = [s[c:] for s, c in zip(seqs, cut)]
    got2, _ = graph.run(tails, past, past_mask)
    for b, (s, c) in enumerate(zip(seqs, cut)):
        np.testing.assert_allclose(got2[b, :len(s) - c - 1], want[b][c:], atol=tol, rtol=0)


@pytest.mark.parametrize("arch", ["qwen2", "llama", "mistral", "qwen3"])
def test_import_matches_transformers(arch, tokenizer, tmp_path):
    pol = save_model(str(tmp_path / "policy"), arch, tokenizer, seed=0)
    ref = save_model(str(tmp_path / "reference"), arch, tokenizer, seed=1)
    out = str(tmp_path / "bundle")
    man = import_bundle(ModelSource(pol), ModelSource(ref), out, "tiny", TextFormat(max_sequence_length=128))
    assert man["policy"]["num_heads"] == man["policy"]["num_key_value_heads"] == 2
    assert man["policy"]["head_dim"] == 16 and man["policy"]["num_layers"] == 2
    assert man["policy"]["vocab_size"] == len(tokenizer) and man["max_sequence_length"] == 128
    assert man["fingerprint"].startswith("sha256:")
    # No [batch, seq, vocab] output: the log-softmax and gather run inside the graph.
    outputs = [o.name for o in onnx.load(os.path.join(out, "policy.onnx")).graph.output]
    assert outputs[0] == "target_logprobs" and "logits" not in outputs
    check_against_transformers(out, "policy", pol, tokenizer)
    check_against_transformers(out, "reference", ref, tokenizer)


def test_optimum_export_imports_with_the_same_numbers(tokenizer, tmp_path):
    from optimum.exporters.onnx import main_export

    pol = save_model(str(tmp_path / "policy"), "qwen2", tokenizer, seed=0)
    exported = str(tmp_path / "optimum")
    main_export(pol, output=exported, task="text-generation-with-past", do_validation=False, no_post_process=True)
    out = str(tmp_path / "bundle")
    man = import_bundle(ModelSource(exported, optimum=True), None, out, "tiny", TextFormat(max_sequence_length=128))
    assert man["reference"] is None and not os.path.exists(os.path.join(out, "reference.onnx"))
    check_against_transformers(out, "policy", pol, tokenizer)
    # --graph logits keeps optimum's graph as it is.
    logits = import_bundle(ModelSource(exported, optimum=True), None, str(tmp_path / "logits"), "tiny",
                           TextFormat(max_sequence_length=128), graph="logits")
    assert logits["policy"]["graph"] == "logits"
    assert [o.name for o in onnx.load(str(tmp_path / "logits" / "policy.onnx")).graph.output][0] == "logits"


def test_external_data_round_trips(tokenizer, tmp_path):
    from optimum.exporters.onnx import main_export

    pol = save_model(str(tmp_path / "policy"), "llama", tokenizer, seed=0)
    exported = str(tmp_path / "optimum")
    main_export(pol, output=exported, task="text-generation-with-past", do_validation=False, no_post_process=True)
    # What optimum writes for graphs over 2 GB, forced here for a small one: weights in one data file.
    # (Large exports also keep some Constant node values there; all_tensors() covers those, and the
    # 0.5B import of docs/models.md exercised it.)
    graph = onnx.load(os.path.join(exported, "model.onnx"))
    onnx.save(graph, os.path.join(exported, "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="model.onnx_data", size_threshold=0)
    out = str(tmp_path / "bundle")
    import_bundle(ModelSource(exported, optimum=True), None, out, "tiny", TextFormat(max_sequence_length=128))
    assert os.path.getsize(os.path.join(out, "policy.onnx_data")) > 4 * os.path.getsize(os.path.join(out, "policy.onnx"))
    from implicit_prm.onnx_logprobs import all_tensors

    rewritten = onnx.load(os.path.join(out, "policy.onnx"), load_external_data=False)
    locations = {e.value for t in all_tensors(rewritten.graph) for e in t.external_data if e.key == "location"}
    assert locations == {"policy.onnx_data"}
    check_against_transformers(out, "policy", pol, tokenizer)


# float16 has an 11-bit significand (unit roundoff 4.9e-4): hidden states of magnitude 1–10 carry
# rounding errors of ~1e-3 through the layers, and the log-probs inherit them (measured: up to 2.4e-3
# on these models against transformers' float32 forward). 1e-2 allows for that and still catches a
# wrong token, position or mask, which moves log-probs by far more on these random models.
FP16_TOL = 1e-2


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_fp16_import(arch, tokenizer, tmp_path):
    pol = save_model(str(tmp_path / "policy"), arch, tokenizer, seed=0)
    out = str(tmp_path / "bundle")
    man = import_bundle(ModelSource(pol), None, out, "tiny", TextFormat(max_sequence_length=128), dtype="fp16")
    assert man["policy"]["dtype"] == "float16" and man["policy"]["target_logprobs_dtype"] == "float32"
    types = {i.name: i.type for i in ort.InferenceSession(os.path.join(out, "policy.onnx")).get_inputs()}
    assert types["past_key_values.0.key"] == "tensor(float16)"
    check_against_transformers(out, "policy", pol, tokenizer, tol=FP16_TOL)


def test_bf16_checkpoint_imports_as_float32_graphs(tokenizer, tmp_path):
    from transformers import AutoModelForCausalLM

    pol = save_model(str(tmp_path / "policy"), "qwen2", tokenizer, seed=0)
    AutoModelForCausalLM.from_pretrained(pol, dtype=torch.float32).to(torch.bfloat16).save_pretrained(pol)
    out = str(tmp_path / "bundle")
    man = import_bundle(ModelSource(pol), None, out, "tiny", TextFormat(max_sequence_length=128), dtype="bf16")
    assert man["policy"]["weights_dtype"] == "bfloat16" and man["policy"]["dtype"] == "float32"
    # transformers upcasting the same bfloat16 weights is the oracle: no rounding beyond float32's.
    check_against_transformers(out, "policy", pol, tokenizer)


def test_large_weights_go_to_a_data_file(tokenizer, tmp_path):
    """The size threshold, lowered so a tiny model crosses it: its weights leave the graph file."""
    pol = save_model(str(tmp_path / "policy"), "qwen2", tokenizer, seed=0)
    out = str(tmp_path / "bundle")
    import_bundle(ModelSource(pol), None, out, "tiny", TextFormat(max_sequence_length=128), external_data_bytes=10_000)
    assert os.path.getsize(os.path.join(out, "policy.onnx_data")) > 4 * os.path.getsize(os.path.join(out, "policy.onnx"))
    check_against_transformers(out, "policy", pol, tokenizer)
    small = str(tmp_path / "inline")
    import_bundle(ModelSource(pol), None, small, "tiny", TextFormat(max_sequence_length=128))
    assert not os.path.exists(os.path.join(small, "policy.onnx_data"))


def test_optimum_fp16_export_imports(tokenizer, tmp_path):
    """optimum's fp16 layout (float16 KV and logits; made here by converting its fp32 export, since
    optimum exports fp16 on a GPU only): the rewrite log-softmaxes in float32."""
    from onnxruntime.transformers.float16 import convert_float_to_float16
    from optimum.exporters.onnx import main_export

    pol = save_model(str(tmp_path / "policy"), "llama", tokenizer, seed=0)
    exported = str(tmp_path / "optimum")
    main_export(pol, output=exported, task="text-generation-with-past", do_validation=False, no_post_process=True)
    path = os.path.join(exported, "model.onnx")
    half = convert_float_to_float16(onnx.load(path), keep_io_types=False)
    from implicit_prm.onnx_fp16 import sort_nodes

    sort_nodes(half.graph)
    onnx.save(half, path)
    out = str(tmp_path / "bundle")
    man = import_bundle(ModelSource(exported, optimum=True), None, out, "tiny", TextFormat(max_sequence_length=128))
    assert man["policy"]["dtype"] == "float16" and man["policy"]["target_logprobs_dtype"] == "float32"
    check_against_transformers(out, "policy", pol, tokenizer, tol=FP16_TOL)


def test_tokenizer_mismatch_is_refused(tokenizer, tmp_path):
    pol = save_model(str(tmp_path / "policy"), "qwen2", tokenizer, seed=0)
    other = byte_level_tokenizer(vocab_size=280)
    ref = save_model(str(tmp_path / "reference"), "qwen2", other, seed=1, vocab_size=len(tokenizer))
    with pytest.raises(BundleImportError, match=r"policy and reference tokenizers differ \(model.*\)"):
        import_bundle(ModelSource(pol), ModelSource(ref), str(tmp_path / "bundle"), "tiny", TextFormat(max_sequence_length=128))


def test_too_long_a_sequence_limit_is_refused(tokenizer, tmp_path):
    pol = save_model(str(tmp_path / "policy"), "qwen2", tokenizer, seed=0)
    with pytest.raises(BundleImportError, match="exceeds the model's max_position_embeddings 256"):
        import_bundle(ModelSource(pol), None, str(tmp_path / "bundle"), "tiny", TextFormat(max_sequence_length=4096))


@pytest.mark.parametrize("name,arch", [("qwen3", "qwen2"), ("llama2", "llama")])
def test_real_tokenizer_bundles(name, arch, tmp_path):
    """A 150k byte-level BPE (Qwen) and a SentencePiece (Llama-2) tokenizer with tiny random models
    of matching vocabulary: the tokenizer files travel into the bundle and the numbers still agree."""
    tok = npm_tokenizer(name)
    pol = save_model(str(tmp_path / "policy"), arch, tok, seed=0)
    out = str(tmp_path / "bundle")
    man = import_bundle(ModelSource(pol), None, out, "tiny", TextFormat(max_sequence_length=128))
    config = json.load(open(os.path.join(out, "tokenizer_config.json")))
    assert man["use_chat_template"] == bool(tok.chat_template) == ("chat_template" in config)
    from transformers import AutoTokenizer

    again = AutoTokenizer.from_pretrained(out)
    assert encode(again, TEXTS[0]) == encode(tok, TEXTS[0])
    check_against_transformers(out, "policy", pol, tok)


def test_cli_import_and_inspect(tokenizer, tmp_path, capsys):
    from implicit_prm.cli import main

    pol = save_model(str(tmp_path / "policy"), "qwen2", tokenizer, seed=0)
    ref = save_model(str(tmp_path / "reference"), "qwen2", tokenizer, seed=1)
    out = str(tmp_path / "models" / "mine")
    main(["import", "--policy", pol, "--reference", ref, "--out", out, "--beta", "0.001", "--step-separator", "\n",
          "--max-sequence-length", "100"])
    printed = json.loads(capsys.readouterr().out)
    assert printed["policy"]["num_key_value_heads"] == 2
    main(["inspect", out])
    info = json.loads(capsys.readouterr().out)
    assert info["manifest"]["name"] == "mine" and info["manifest"]["beta"] == 0.001
    assert info["manifest"]["step_separator"] == "\n" and info["manifest"]["max_sequence_length"] == 100
    assert info["fingerprint"]["matches"] and info["fingerprint"]["stored"] == printed["fingerprint"]
    inputs = {i["name"]: i for i in info["graphs"]["policy"]["inputs"]}
    assert inputs["past_key_values.1.value"]["dtype"] == "float" and inputs["past_key_values.1.value"]["shape"][1] == 2
    assert inputs["target_ids"]["dtype"] == "int64"
    assert info["graphs"]["reference"]["outputs"][0]["name"] == "target_logprobs"
    assert info["tokenizer"]["models_agree_on_vocab"] and info["tokenizer"]["ids_fit_every_model"]
    assert info["file_sizes"]["policy.onnx"] > 0


def test_cli_refuses_a_missing_reference(tokenizer, tmp_path, capsys):
    from implicit_prm.cli import main

    pol = save_model(str(tmp_path / "policy"), "qwen2", tokenizer, seed=0)
    with pytest.raises(SystemExit) as e:
        main(["import", "--policy", pol, "--out", str(tmp_path / "b")])
    assert e.value.code == 2
    assert "give a reference (--reference or --optimum-reference) or --reference-free" in capsys.readouterr().err


def test_eurus_preset_sets_the_released_models_conventions(tmp_path, capsys):
    from implicit_prm.cli import main

    tok = npm_tokenizer("qwen3")
    pol = save_model(str(tmp_path / "policy"), "qwen2", tok, seed=0)
    out = str(tmp_path / "eurus")
    main(["import", "--policy", pol, "--reference-free", "--out", out, "--preset", "eurus-prm", "--max-sequence-length", "128"])
    man = json.load(open(os.path.join(out, "prm.json")))
    assert (man["beta"], man["step_separator"], man["use_chat_template"], man["append_eos"]) == (0.001, "\n\n", True, True)
    assert man["provenance"]["preset"] == "eurus-prm" and man["step_boundaries"] == "eos-separator"
    config = json.load(open(os.path.join(out, "tokenizer_config.json")))
    assert config["eos_token"] == "<|im_end|>" and "<|im_start|>assistant" in config["chat_template"]
    # A flag still overrides the preset.
    main(["import", "--policy", pol, "--reference-free", "--out", out, "--preset", "eurus-prm", "--beta", "0.05",
          "--max-sequence-length", "128"])
    assert json.load(open(os.path.join(out, "prm.json")))["beta"] == 0.05


def test_eurus_preset_refuses_a_tokenizer_without_its_end_of_turn_token(tmp_path, capsys):
    from implicit_prm.cli import main

    tok = npm_tokenizer("llama2")
    pol = save_model(str(tmp_path / "policy"), "llama", tok, seed=0)
    with pytest.raises(SystemExit):
        main(["import", "--policy", pol, "--reference-free", "--out", str(tmp_path / "b"), "--preset", "eurus-prm",
              "--no-chat-template", "--prompt-template", "{prompt}\n", "--max-sequence-length", "128"])
    assert "'<|im_end|>' is not in the tokenizer's vocabulary" in capsys.readouterr().err
