"""Reference scorer for Hugging Face models: the implicit-PRM paper's computation on the original
transformers checkpoints (not on the exported graphs), so the service's numbers on an imported
bundle can be checked against what the model's own code computes.

Token ids follow the bundle's text format (ARCHITECTURE.md §1, the segment-wise rule the service
applies): the rendered prompt, then each step (+ separator, except the last; + EOS when the bundle
says so), each tokenized on its own without special tokens. Then, per model, one transformers
forward over the whole sequence, log_softmax + gather of each next token, ℓ_i = log πφ − log πref,
q_k = β·Σ ℓ_i up to the end of step k, r_k = q_k − q_{k−1}.
"""
from __future__ import annotations

import json
from typing import List, Optional, Sequence

import torch


def render_prompt(tok, manifest: dict, prompt: str) -> str:
    if manifest["use_chat_template"]:
        return tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
    return manifest["prompt_template"].replace("{prompt}", prompt)


def segment_ids(tok, manifest: dict, prompt: str, steps: Sequence[str]) -> List[List[int]]:
    enc = lambda text: tok(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    segs = [enc(render_prompt(tok, manifest, prompt))]
    for k, step in enumerate(steps):
        if k < len(steps) - 1:
            segs.append(enc(step + manifest["step_separator"]))
        else:
            segs.append(enc(step) + ([tok.convert_tokens_to_ids(tok.eos_token)] if manifest["append_eos"] else []))
    return segs


@torch.no_grad()
def response_logprobs(model, ids: List[int], prompt_len: int) -> torch.Tensor:
    logits = model(torch.tensor([ids])).logits[0].float()
    lp = torch.log_softmax(logits[:-1], -1).gather(-1, torch.tensor(ids[1:])[:, None])[:, 0]
    return lp[prompt_len - 1:].double()


def step_rewards(ell: torch.Tensor, segs: List[List[int]], beta: float) -> dict:
    cum = torch.cumsum(ell, 0) * beta
    ends, n = [], 0
    for s in segs[1:]:
        n += len(s)
        ends.append(n - 1)
    q = [float(cum[e]) for e in ends]
    return {"q": q, "step_rewards": [q[0]] + [q[k] - q[k - 1] for k in range(1, len(q))], "outcome_reward": q[-1]}


def score(policy_dir: str, reference_dir: Optional[str], manifest: dict, items: Sequence[dict], beta: Optional[float] = None):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(policy_dir)
    load = lambda d: AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()  # noqa: E731
    policy, reference = load(policy_dir), (load(reference_dir) if reference_dir else None)
    b = manifest["beta"] if beta is None else beta
    out = []
    for item in items:
        segs = segment_ids(tok, manifest, item["prompt"], item["steps"])
        ids = sum(segs, [])
        ell = response_logprobs(policy, ids, len(segs[0]))
        if reference is not None:
            ell = ell - response_logprobs(reference, ids, len(segs[0]))
        out.append({"id": item.get("id"), "segment_ids": segs, **step_rewards(ell, segs, b)})
    return out


def score_files(policy_dir: str, reference_dir: Optional[str], bundle_dir: str, inp: str, out: str) -> None:
    from .bundle import read_manifest

    with open(inp, encoding="utf-8") as f:
        items = [json.loads(line) for line in f if line.strip()]
    results = score(policy_dir, reference_dir, read_manifest(bundle_dir), items)
    with open(out, "w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
