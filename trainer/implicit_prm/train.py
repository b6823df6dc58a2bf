"""Training loops on transformers causal LMs: the SFT reference and the implicit PRM (CE / DPO,
optionally reference-free), with a held-out check every `eval_every` steps that keeps the best
weights and stops once it has not improved for `patience` checks."""
from __future__ import annotations

import copy
import math
import random
import time
from typing import Callable, List, Optional, Tuple

import torch
from tqdm import tqdm

from . import constants as C
from .data import DomainConfig, random_problem, student_solution
from .lm import encode_trace, new_model, pad_batch, response_logprobs, token_logprobs
from .losses import ce_loss, dpo_loss


def lr_at(step: int, total: int, lr: float, warmup: int, final_frac: float = 0.1) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return lr * (final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def make_optimizer(model, lr, wd=0.01):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.98))


def optimizer_step(model, opt, loss) -> float:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()


def demonstrations(tok, domain: DomainConfig, rng: random.Random, exclude: set, n: int):
    out = []
    while len(out) < n:
        p = random_problem(rng, domain)
        if p.text not in exclude:
            ids, plen, _ = encode_trace(tok, p.text, student_solution(p, domain.student, rng)[0])
            out.append((ids, plen))
    return out


def train_sft(config, tok, domain: DomainConfig, steps: int, batch_size: int, lr: float, seed: int, exclude: set,
              warmup: int = 100, log=print) -> Tuple[object, dict]:
    """Next-token prediction on student demonstrations of freshly drawn problems (response tokens only)."""
    rng = random.Random(seed)
    model = new_model(config, seed).train()
    opt = make_optimizer(model, lr)
    t0, ema, curve = time.time(), None, []
    for step in tqdm(range(steps), desc="sft", unit="step"):
        ids, mask, response = pad_batch(demonstrations(tok, domain, rng, exclude, batch_size), tok.pad_token_id)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr, warmup)
        loss = -(token_logprobs(model, ids, mask) * response).sum() / response.sum()
        value = optimizer_step(model, opt, loss)
        ema = value if ema is None else 0.98 * ema + 0.02 * value
        if (step + 1) % 200 == 0:
            curve.append({"step": step + 1, "loss": ema})
            log(f"sft step {step + 1}/{steps} loss {ema:.4f} ({time.time() - t0:.0f}s)")
    return model.eval(), {"steps": steps, "final_loss": ema, "seconds": time.time() - t0, "curve": curve}


def dpo_pairs(rollouts: List[dict], rng: random.Random, per_problem: int) -> List[Tuple[int, int]]:
    by_problem = {}
    for i, r in enumerate(rollouts):
        by_problem.setdefault(r["problem"], ([], []))[0 if r["correct"] else 1].append(i)
    units = []
    for good, bad in by_problem.values():
        pairs = [(g, b) for g in good for b in bad]
        rng.shuffle(pairs)
        units += pairs[:per_problem]
    return units


class Trainee:
    """The policy being trained, the frozen reference's sequence log-prob sums, and the loss of a batch."""

    def __init__(self, reference, tok, rollouts, loss: str, beta: float, reference_free: bool):
        self.examples = [encode_trace(tok, r["problem"], r["steps"])[:2] for r in rollouts]
        self.labels = torch.tensor([1.0 if r["correct"] else 0.0 for r in rollouts])
        self.pad_id, self.loss, self.beta = tok.pad_token_id, loss, beta
        self.ref_sums = None if reference_free else torch.stack(
            [lp.sum().float() for lp in response_logprobs(reference, self.examples, self.pad_id)])
        self.policy = copy.deepcopy(reference).train()
        for p in self.policy.parameters():
            p.requires_grad_(True)

    def sums(self, idx: List[int]):
        ids, mask, response = pad_batch([self.examples[i] for i in idx], self.pad_id)
        pol = (token_logprobs(self.policy, ids, mask) * response).sum(1)
        return pol, (self.ref_sums[idx] if self.ref_sums is not None else None)

    def batch_loss(self, batch) -> torch.Tensor:
        if self.loss == "ce":
            pol, ref = self.sums(batch)
            return ce_loss(pol, ref, self.labels[batch], self.beta)
        n = len(batch)
        pol, ref = self.sums([g for g, _ in batch] + [b for _, b in batch])
        split = (lambda x: (x[:n], x[n:])) if ref is not None else (lambda x: (None, None))
        (rc, rr) = split(ref)
        return dpo_loss(pol[:n], rc, pol[n:], rr, self.beta)


def train_prm(reference, tok, rollouts: List[dict], loss: str = "ce", beta: float = C.DEFAULT_BETA,
              reference_free: bool = False, epochs: float = 2.0, batch_size: int = 64, lr: float = 2e-4,
              seed: int = 0, max_pairs_per_problem: int = 8, warmup: int = 20,
              validate: Optional[Callable[[object], float]] = None, eval_every: int = 0, patience: int = 3,
              log=print) -> Tuple[object, dict]:
    """rollouts: [{"problem", "steps", "correct"}] → policy initialised from the reference (which stays
    frozen). `validate(policy)` scores the policy on held-out data (higher is better)."""
    assert loss in ("ce", "dpo")
    rng = random.Random(seed)
    torch.manual_seed(seed)
    for p in reference.parameters():
        p.requires_grad_(False)
    trainee = Trainee(reference, tok, rollouts, loss, beta, reference_free)
    units = list(range(len(rollouts))) if loss == "ce" else dpo_pairs(rollouts, rng, max_pairs_per_problem)
    batch_size = batch_size if loss == "ce" else max(1, batch_size // 2)  # two sequences per pair
    if not units:
        raise ValueError(f"no training units for loss {loss} (DPO needs problems with both right and wrong samples)")
    total = max(1, int(math.ceil(epochs * len(units) / batch_size)))
    opt = make_optimizer(trainee.policy, lr, wd=0.0)
    t0, ema, order, curve = time.time(), None, [], []
    best = {"score": -math.inf, "step": 0, "state": None}
    for step in tqdm(range(total), desc=f"prm-{loss}", unit="step"):
        if len(order) < batch_size:
            order += rng.sample(units, len(units))
        batch, order = order[:batch_size], order[batch_size:]
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, lr, min(warmup, total // 5 + 1), final_frac=0.0)
        value = optimizer_step(trainee.policy, opt, trainee.batch_loss(batch))
        ema = value if ema is None else 0.95 * ema + 0.05 * value
        if validate is not None and eval_every and ((step + 1) % eval_every == 0 or step + 1 == total):
            score = validate(trainee.policy.eval())
            trainee.policy.train()
            curve.append({"step": step + 1, "loss": ema, "validation": score, "seconds": time.time() - t0})
            log(f"prm-{loss} step {step + 1}/{total} loss {ema:.4f} validation {score:.4f} ({time.time() - t0:.0f}s)")
            if score > best["score"]:
                best = {"score": score, "step": step + 1, "state": copy.deepcopy(trainee.policy.state_dict())}
            elif len(curve) - next(i for i, c in enumerate(curve) if c["step"] == best["step"]) > patience:
                log(f"prm-{loss}: no better validation for {patience} checks; stopping at step {step + 1}")
                break
    if best["state"] is not None:
        trainee.policy.load_state_dict(best["state"])
    trainee.policy.eval()
    return trainee.policy, {"loss": loss, "beta": beta, "reference_free": reference_free, "steps": step + 1,
                            "best_step": best["step"] or step + 1, "units": len(units), "final_loss": ema,
                            "seconds": time.time() - t0, "curve": curve}
