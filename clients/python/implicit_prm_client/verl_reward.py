"""Implicit process rewards as a verl custom reward function: one scalar reward per sample.

verl turns every key of the dicts a reward function returns into ``np.array(values)`` over the
batch (``RayPPOTrainer.fit`` and the reward loop's ``compute_rm_score``), so every sample returns
the same keys, each holding a scalar: lists of different lengths would stop training with an
"inhomogeneous shape" error. Dense per-step rewards go through the reward manager in
``implicit_prm_client.verl_manager`` instead.

Every sample gets a reward: one that cannot be scored (empty response, too long for the PRM, no
problem text, service unreachable) gets ``fallback_reward`` and the reason in ``prm_error``.

    custom_reward_function.path=pkg://implicit_prm_client.verl_reward
    custom_reward_function.name=compute_score            # or compute_score_batch with
    reward_model.reward_manager=batch                    # verl's batch reward manager
"""
from __future__ import annotations

import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence

from implicit_prm_client.client import PrmError
from implicit_prm_client.sample_scoring import CLIENT_ERROR, SampleScore, score_samples, step_separator
from implicit_prm_client.settings import PrmSettings, client_for

# Where the problem text is looked for in a dataset row's extra_info, in this order.
PROMPT_KEYS = ("question", "prompt", "problem")

_warned: set = set()


def problem_text(extra_info: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The problem text the PRM scores against, from a dataset row's ``extra_info``."""
    for key in PROMPT_KEYS:
        value = extra_info.get(key) if isinstance(extra_info, Mapping) else None
        if isinstance(value, str) and value:
            return value
    return None


def score_batch(settings: PrmSettings, prompts: Sequence[Optional[str]], responses: Sequence[str],
                **options: Any) -> List[SampleScore]:
    """:func:`score_samples` with the settings' service, model and aggregate; never raises."""
    client = client_for(settings)
    try:
        separator = step_separator(client, settings.model)
        scored = score_samples(client, prompts, responses, separator, batch_size=settings.batch_size,
                               model=settings.model, aggregate=settings.aggregate, **options)
    except PrmError as err:
        scored = [SampleScore(error=err.code) for _ in responses]
    except Exception as err:  # a /v1/models answer of an unexpected shape
        scored = [SampleScore(error=f"{CLIENT_ERROR}: {type(err).__name__}") for _ in responses]
    for sample in scored:
        warn_once(sample.error)
    return scored


def warn_once(code: str) -> None:
    """One line on stderr per error code and process, so a misconfiguration shows in the logs."""
    if code and code not in _warned:
        _warned.add(code)
        print(f"implicit-prm: a sample could not be scored ({code}); it gets the fallback reward", file=sys.stderr)


def scalar_reward(sample: SampleScore, fallback: float) -> Dict[str, Any]:
    """The dict verl keeps per sample: ``score`` is the reward, the rest are logged per key."""
    if sample.result is None:
        return {"score": fallback, "outcome_reward": fallback, "num_steps": 0, "prm_error": sample.error}
    return {
        "score": float(sample.result["score"]),
        "outcome_reward": float(sample.result["outcome_reward"]),
        "num_steps": len(sample.result["steps"]),
        "prm_error": "",
    }


def compute_score_batch(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Optional[Mapping[str, Any]]],
    **kwargs: Any,
) -> List[Dict[str, Any]]:
    """verl's batch reward function signature (``BatchRewardManager.verify``): one request for
    the batch, one scalar dict per sample. ``kwargs``: the ``prm_*`` settings and
    ``fallback_reward`` (see :class:`PrmSettings`); others are ignored."""
    settings = PrmSettings.resolve(kwargs)
    scored = score_batch(settings, [problem_text(x) for x in extra_infos], list(solution_strs))
    return [scalar_reward(sample, settings.fallback_reward) for sample in scored]


def compute_score(data_source: str, solution_str: str, ground_truth: Any,
                  extra_info: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> Dict[str, Any]:
    """verl's per-sample reward function signature (``NaiveRewardManager``, the reward loop)."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], **kwargs)[0]
