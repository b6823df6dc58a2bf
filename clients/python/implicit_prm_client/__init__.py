"""Python client of the implicit-prm service (standard library only).

``implicit_prm_client.verl_reward`` and ``implicit_prm_client.verl_manager`` plug it into verl;
the manager imports torch when it is first called.
"""
from .client import AGGREGATES, PrmClient, PrmError
from .rl import place_step_rewards, split_steps, step_end_tokens
from .sample_scoring import SampleScore, score_samples
from .settings import PrmSettings

__all__ = [
    "AGGREGATES",
    "PrmClient",
    "PrmError",
    "PrmSettings",
    "SampleScore",
    "place_step_rewards",
    "score_samples",
    "split_steps",
    "step_end_tokens",
]
__version__ = "0.1.0"
