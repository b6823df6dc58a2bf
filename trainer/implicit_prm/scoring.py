"""Segment-wise tokenization (ARCHITECTURE.md §1) and the reference scorer: padded batch, log_softmax +
gather, cumulative sums at step ends — the way the implicit-PRM paper's code computes step rewards."""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np
import torch

from .model import GPT
from .tokenizer import CharTokenizer


def segment(tok: CharTokenizer, manifest: dict, prompt: str, steps: Sequence[str]) -> List[List[int]]:
    """[prompt segment, step 1, ..., step n] token ids; step k = text + separator, last = text (+EOS)."""
    if len(steps) == 0:
        raise ValueError("at least one step is required")
    segs = [tok.encode(manifest["prompt_template"].replace("{prompt}", prompt))]
    if not segs[0]:
        raise ValueError("empty prompt segment")
    n = len(steps)
    for k, s in enumerate(steps):
        if not tok.encode(s):
            raise ValueError(f"EMPTY_STEP: step {k} tokenizes to zero tokens")
        if k < n - 1:
            ids = tok.encode(s + manifest["step_separator"])
        else:
            ids = tok.encode(s)
            if manifest.get("append_eos", True):
                ids = ids + [tok.eos_id]
        segs.append(ids)
    return segs


def step_ends(segs: List[List[int]]) -> List[int]:
    """Index (into the response-token list) of the last token of each step."""
    ends, n = [], 0
    for s in segs[1:]:
        n += len(s)
        ends.append(n - 1)
    return ends


def padded_batch(seqs: List[List[int]], pad_id: int):
    """Right-padded ids and their attention mask, [B, longest]."""
    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), T), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids, mask


def next_token_logprobs(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """[B, T-1]: log p(ids[:, t+1] | ids[:, :t+1]) — log_softmax over the vocabulary, then gather
    (the implicit-PRM paper's computation; every scorer and trainer loop here uses this one)."""
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    return torch.gather(logp, -1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)


def response_logprobs_of(logits: torch.Tensor, ids: torch.Tensor, seqs: List[List[int]], prompt_lens: List[int]) -> List[torch.Tensor]:
    """log p(next token) at each response position."""
    tok_lp = next_token_logprobs(logits, ids)
    return [tok_lp[i, prompt_lens[i] - 1 : len(s) - 1].clone() for i, s in enumerate(seqs)]


@torch.no_grad()
def batch_response_logprobs(model: GPT, seqs: List[List[int]], prompt_lens: List[int], pad_id: int = 0) -> List[torch.Tensor]:
    """log p(token) for the response tokens of every sequence (one right-padded batch)."""
    ids, mask = padded_batch(seqs, pad_id)
    return response_logprobs_of(model(ids, attention_mask=mask), ids, seqs, prompt_lens)


def step_q(lp_pol: np.ndarray, lp_ref: Optional[np.ndarray], ends: List[int], beta: float):
    """q_k = β·Σ ℓ_i over the response tokens through step k's last token, r_k = q_k − q_{k−1}."""
    ell = lp_pol - lp_ref if lp_ref is not None else lp_pol
    q = (np.cumsum(ell) * beta)[ends]
    return q, np.diff(np.concatenate([[0.0], q]))


def rewards_from_logprobs(pol_lp: torch.Tensor, ref_lp: Optional[torch.Tensor], ends: List[int], beta: float):
    """step_q on torch log-probs, in float64, as lists."""
    q, r = step_q(pol_lp.double().numpy(), ref_lp.double().numpy() if ref_lp is not None else None, ends, beta)
    return q.tolist(), r.tolist()


@torch.no_grad()
def score_items(policy: GPT, reference: Optional[GPT], tok: CharTokenizer, manifest: dict, items, beta: float = None):
    """items: list of {"id","prompt","steps"} → list of results (q, step_rewards, outcome_reward, tokens)."""
    beta = manifest["beta"] if beta is None else beta
    segss = [segment(tok, manifest, it["prompt"], it["steps"]) for it in items]
    seqs = [sum(s, []) for s in segss]
    plens = [len(s[0]) for s in segss]
    pol = batch_response_logprobs(policy, seqs, plens, tok.pad_id)
    ref = batch_response_logprobs(reference, seqs, plens, tok.pad_id) if reference is not None else [None] * len(seqs)
    out = []
    for it, segs, seq, p, r in zip(items, segss, seqs, pol, ref):
        q, sr = rewards_from_logprobs(p, r, step_ends(segs), beta)
        out.append({"id": it.get("id"), "q": q, "step_rewards": sr, "outcome_reward": q[-1], "tokens": len(seq)})
    return out
