"""Training loops: the SFT reference model and the implicit PRM (CE / DPO, optionally reference-free)."""
from __future__ import annotations

import copy
import math
import random
import time
from typing import List, Optional, Sequence, Tuple

import torch
from tqdm import tqdm

from . import constants as C
from .data import DomainConfig, Problem, random_problem, student_solution
from .losses import ce_loss, dpo_loss
from .model import GPT, ModelConfig
from .scoring import segment
from .tokenizer import CharTokenizer


def encode_example(tok: CharTokenizer, prompt: str, steps: Sequence[str]) -> Tuple[List[int], int]:
    segs = segment(tok, C.TEXT_FORMAT, prompt, steps)
    return sum(segs, []), len(segs[0])


def pad_batch(examples: List[Tuple[List[int], int]], pad_id: int):
    """→ ids [B,T], attention mask [B,T], response-target mask [B,T-1] (1 where ids[:,t+1] is a response token)."""
    T = max(len(s) for s, _ in examples)
    B = len(examples)
    ids = torch.full((B, T), pad_id, dtype=torch.long)
    mask = torch.zeros((B, T), dtype=torch.long)
    tmask = torch.zeros((B, T - 1), dtype=torch.float32)
    for i, (s, p) in enumerate(examples):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
        tmask[i, p - 1: len(s) - 1] = 1.0
    return ids, mask, tmask


def token_logprobs(model: GPT, ids, mask):
    logits = model(ids, attention_mask=mask)
    logp = torch.log_softmax(logits[:, :-1].float(), -1)
    return logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)


def lr_at(step: int, total: int, lr: float, warmup: int, final_frac: float = 0.1) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return lr * (final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def make_optimizer(model, lr, wd=0.01):
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.98))


def train_sft(cfg: ModelConfig, tok: CharTokenizer, domain: DomainConfig, steps: int, batch_size: int,
              lr: float, seed: int, exclude: set, warmup: int = 100, log=print) -> Tuple[GPT, dict]:
    """Next-token prediction on student demonstrations of freshly drawn problems (response tokens only)."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = GPT(cfg)
    opt = make_optimizer(model, lr)
    model.train()
    t0 = time.time()
    ema = None
    pbar = tqdm(range(steps), desc="sft", unit="step")
    for step in pbar:
        ex = []
        while len(ex) < batch_size:
            p = random_problem(rng, domain)
            if p.text in exclude:
                continue
            steps_txt, _ = student_solution(p, domain.student, rng)
            ex.append(encode_example(tok, p.text, steps_txt))
        ids, mask, tmask = pad_batch(ex, tok.pad_id)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr, warmup)
        lp = token_logprobs(model, ids, mask)
        loss = -(lp * tmask).sum() / tmask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        value = loss.item()
        ema = value if ema is None else 0.98 * ema + 0.02 * value
        pbar.set_postfix(loss=f"{ema:.4f}")
        if (step + 1) % 200 == 0:
            log(f"sft step {step + 1}/{steps} loss {ema:.4f} ({time.time() - t0:.0f}s)")
    model.eval()
    return model, {"steps": steps, "final_loss": ema, "seconds": time.time() - t0}


@torch.no_grad()
def sequence_sums(model: GPT, examples, pad_id: int, batch_size: int = 128) -> torch.Tensor:
    out = []
    for s in range(0, len(examples), batch_size):
        ids, mask, tmask = pad_batch(examples[s: s + batch_size], pad_id)
        out.append((token_logprobs(model, ids, mask) * tmask).sum(1))
    return torch.cat(out) if out else torch.zeros(0)


def train_prm(reference: GPT, tok: CharTokenizer, rollouts: List[dict], loss: str = "ce", beta: float = C.DEFAULT_BETA,
              reference_free: bool = False, epochs: float = 2.0, batch_size: int = 64, lr: float = 2e-4,
              seed: int = 0, max_pairs_per_problem: int = 8, warmup: int = 20, log=print) -> Tuple[GPT, dict]:
    """rollouts: [{"problem": str, "steps": [...], "correct": bool}] → policy initialised from the reference.

    The reference stays frozen; its sequence log-probs are computed once, before training."""
    assert loss in ("ce", "dpo")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    examples = [encode_example(tok, r["problem"], r["steps"]) for r in rollouts]
    labels = torch.tensor([1.0 if r["correct"] else 0.0 for r in rollouts])
    ref_sums = None if reference_free else sequence_sums(reference, examples, tok.pad_id)
    policy = copy.deepcopy(reference)
    for p in policy.parameters():
        p.requires_grad_(True)
    policy.train()
    for p in reference.parameters():
        p.requires_grad_(False)
    opt = make_optimizer(policy, lr, wd=0.0)

    if loss == "ce":
        units = list(range(len(examples)))
    else:
        by_problem = {}
        for i, r in enumerate(rollouts):
            by_problem.setdefault(r["problem"], ([], []))[0 if r["correct"] else 1].append(i)
        units = []
        for prob, (good, bad) in by_problem.items():
            pairs = [(g, b) for g in good for b in bad]
            rng.shuffle(pairs)
            units += pairs[:max_pairs_per_problem]
        batch_size = max(1, batch_size // 2)  # two sequences per pair
    if not units:
        raise ValueError(f"no training units for loss {loss} (DPO needs problems with both right and wrong samples)")
    total = max(1, int(math.ceil(epochs * len(units) / batch_size)))
    t0 = time.time()
    ema = None
    order = []
    pbar = tqdm(range(total), desc=f"prm-{loss}", unit="step")
    for step in pbar:
        if len(order) < batch_size:
            perm = units[:]
            rng.shuffle(perm)
            order += perm
        batch, order = order[:batch_size], order[batch_size:]
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, lr, min(warmup, total // 5 + 1), final_frac=0.0)
        if loss == "ce":
            ids, mask, tmask = pad_batch([examples[i] for i in batch], tok.pad_id)
            pol = (token_logprobs(policy, ids, mask) * tmask).sum(1)
            ref = ref_sums[batch] if ref_sums is not None else None
            l = ce_loss(pol, ref, labels[batch], beta)
        else:
            idx = [g for g, _ in batch] + [b for _, b in batch]
            ids, mask, tmask = pad_batch([examples[i] for i in idx], tok.pad_id)
            pol = (token_logprobs(policy, ids, mask) * tmask).sum(1)
            n = len(batch)
            ref = ref_sums[idx] if ref_sums is not None else None
            l = dpo_loss(pol[:n], ref[:n] if ref is not None else None, pol[n:], ref[n:] if ref is not None else None, beta)
        opt.zero_grad(set_to_none=True)
        l.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()
        value = l.item()
        ema = value if ema is None else 0.95 * ema + 0.05 * value
        pbar.set_postfix(loss=f"{ema:.4f}")
        if (step + 1) % 100 == 0:
            log(f"prm-{loss} step {step + 1}/{total} loss {ema:.4f} ({time.time() - t0:.0f}s)")
    policy.eval()
    return policy, {"loss": loss, "beta": beta, "reference_free": reference_free, "steps": total,
                    "units": len(units), "final_loss": ema, "seconds": time.time() - t0}
