"""Implicit process rewards in verl, from a checkout (with the client installed, use the
``pkg://implicit_prm_client...`` paths of docs/clients.md instead of this file).

A scalar reward per sample (verl's default reward path, or its ``batch`` reward manager):

    custom_reward_function.path=clients/python/examples/verl_reward.py
    custom_reward_function.name=compute_score              # or, one request per batch:
    reward_model.reward_manager=batch custom_reward_function.name=compute_score_batch

Dense rewards, each step's reward on the policy token that ends the step:

    reward_model.use_reward_loop=False
    reward_manager.source=importlib
    reward_manager.module.path=clients/python/examples/verl_reward.py
    reward_manager.name=ImplicitPrmRewardManager

The problem text must be in each dataset row's ``extra_info["question"]`` (or ``"prompt"``,
``"problem"``); the manager falls back to the decoded prompt tokens. Settings come from
``reward_kwargs`` (``prm_url``, ``prm_api_key``, ``prm_model``, ``prm_aggregate``,
``fallback_reward``) or the environment (PRM_URL, PRM_API_KEY, PRM_MODEL, PRM_AGGREGATE,
PRM_FALLBACK_REWARD). A sample that cannot be scored gets the fallback reward (default 0.0) and
its error code in ``prm_error``; nothing raises out of a reward call for a sample's sake.

Run this file to score one right and one wrong solution the way verl's reward functions do:

    PRM_URL=http://127.0.0.1:8080 python3 clients/python/examples/verl_reward.py
"""
from __future__ import annotations

import sys
from pathlib import Path

try:
    import implicit_prm_client  # noqa: F401
except ImportError:  # run from a checkout without installing the client
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from implicit_prm_client.verl_manager import ImplicitPrmRewardManager  # noqa: E402
from implicit_prm_client.verl_reward import compute_score, compute_score_batch  # noqa: E402

__all__ = ["ImplicitPrmRewardManager", "compute_score", "compute_score_batch"]

PROMPT = "48+27-39*2"
RESPONSES = [
    "48+27=75\n75-39=36\n36*2=72\nAnswer: 72",
    "48+27=75\n75-39=44\n44*2=88\nAnswer: 88",
]


def main() -> int:
    rewards = compute_score_batch(["arith"] * 2, RESPONSES, ["72"] * 2, [{"question": PROMPT}] * 2)
    for response, reward in zip(RESPONSES, rewards):
        print(f"{reward['score']:+.4f}  {response.splitlines()[1]} ...  {reward}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
