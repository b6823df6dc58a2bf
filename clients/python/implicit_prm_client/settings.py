"""Where the RL integrations find the service, and what they give a sample that cannot be scored.

Trainers configure the verl reward function and reward manager through keyword arguments
(verl's ``reward_kwargs``), which reach Ray workers with the config; environment variables are
the fallback, so a checkout works without touching the trainer's config. Keyword arguments win.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from implicit_prm_client.client import AGGREGATES, PrmClient

DEFAULT_URL = "http://127.0.0.1:8080"

# keyword argument -> environment variable
_SOURCES = {
    "prm_url": "PRM_URL",
    "prm_api_key": "PRM_API_KEY",
    "prm_model": "PRM_MODEL",
    "prm_aggregate": "PRM_AGGREGATE",
    "fallback_reward": "PRM_FALLBACK_REWARD",
    "prm_batch_size": "PRM_BATCH_SIZE",
    "prm_timeout": "PRM_TIMEOUT",
}


@dataclass(frozen=True)
class PrmSettings:
    url: str = DEFAULT_URL
    api_key: Optional[str] = None
    model: Optional[str] = None
    aggregate: str = "min"
    # The reward of a sample that cannot be scored (empty response, too long, service down).
    fallback_reward: float = 0.0
    # Items per /v1/score request; the service's MAX_ITEMS_PER_REQUEST defaults to 256.
    batch_size: int = 64
    timeout: float = 120.0

    @classmethod
    def resolve(cls, kwargs: Mapping[str, Any]) -> "PrmSettings":
        """Settings from ``prm_*`` keyword arguments, then ``PRM_*`` environment variables."""
        raw: Dict[str, Any] = {}
        for key, env in _SOURCES.items():
            value = kwargs.get(key)
            if value is None or value == "":
                value = os.environ.get(env) or None
            raw[key] = value
        aggregate = str(raw["prm_aggregate"] or "min")
        if aggregate not in AGGREGATES:
            raise ValueError(f"prm_aggregate must be one of {', '.join(AGGREGATES)}, not {aggregate!r}")
        return cls(
            url=str(raw["prm_url"] or DEFAULT_URL),
            api_key=raw["prm_api_key"] or None,
            model=raw["prm_model"] or None,
            aggregate=aggregate,
            fallback_reward=float(raw["fallback_reward"] if raw["fallback_reward"] is not None else 0.0),
            batch_size=max(1, int(raw["prm_batch_size"] or 64)),
            timeout=float(raw["prm_timeout"] or 120.0),
        )


_clients: Dict[Tuple[str, Optional[str], float], PrmClient] = {}


def client_for(settings: PrmSettings) -> PrmClient:
    """One client per service and key in each process: verl calls reward functions per sample."""
    key = (settings.url, settings.api_key, settings.timeout)
    if key not in _clients:
        _clients[key] = PrmClient(settings.url, api_key=settings.api_key, timeout=settings.timeout)
    return _clients[key]
