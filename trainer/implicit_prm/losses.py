"""Implicit-PRM losses (Yuan et al., "Free Process Rewards without Process Labels").

The implicit reward of a response is r = β · Σ_i ℓ_i with ℓ_i = log πφ(y_i|·) − log πref(y_i|·)
(reference-free: ℓ_i = log πφ(y_i|·)); its running sums at step ends are the q values.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F


def implicit_reward(pol_sum: torch.Tensor, ref_sum: Optional[torch.Tensor], beta: float) -> torch.Tensor:
    return beta * (pol_sum - ref_sum) if ref_sum is not None else beta * pol_sum


def ce_loss(pol_sum, ref_sum, labels, beta: float) -> torch.Tensor:
    """Mean BCE(σ(β·Σℓ), label) over responses."""
    r = implicit_reward(pol_sum, ref_sum, beta)
    return F.binary_cross_entropy_with_logits(r, labels.to(r.dtype))


def dpo_loss(pol_chosen, ref_chosen, pol_rejected, ref_rejected, beta: float) -> torch.Tensor:
    """Mean −log σ(β·(Σℓ_chosen − Σℓ_rejected)) over (correct, incorrect) pairs of one problem."""
    rc = implicit_reward(pol_chosen, ref_chosen, beta)
    rr = implicit_reward(pol_rejected, ref_rejected, beta)
    return -F.logsigmoid(rc - rr).mean()
