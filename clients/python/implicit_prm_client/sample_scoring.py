"""Scores a batch of sampled responses so that every sample gets an answer.

An RL step must not stop because one sample cannot be scored. The service refuses a whole
request when one of its items is bad (an over-long response, an empty prompt), so a refused
request is split in halves and sent again until the bad items stand alone; each sample comes
back with the service's result or with the error code that explains why it has none.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from implicit_prm_client.client import PrmClient, PrmError
from implicit_prm_client.rl import split_steps

# Error codes of samples the client refuses before asking the service.
NO_PROMPT = "NO_PROMPT"
EMPTY_RESPONSE = "EMPTY_RESPONSE"
CLIENT_ERROR = "CLIENT_ERROR"

# Answers about the request as a whole (key, model): splitting the batch cannot help.
_REQUEST_WIDE_STATUSES = (401, 403, 404)


@dataclass
class SampleScore:
    """One sample's outcome: ``result`` is the service's item result (``score``, ``outcome_reward``,
    ``steps``, ...) or None, and then ``error`` holds the reason."""

    spans: List[Tuple[int, int]] = field(default_factory=list)
    result: Optional[Dict[str, Any]] = None
    error: str = ""


def score_samples(
    client: PrmClient,
    prompts: Sequence[Optional[str]],
    responses: Sequence[str],
    separator: str,
    batch_size: int = 64,
    **options: Any,
) -> List[SampleScore]:
    """Scores ``responses[i]`` as an answer to ``prompts[i]``; never raises.

    Responses are split into steps with :func:`split_steps` (blank steps dropped); ``options``
    go to :meth:`PrmClient.score` (``model``, ``aggregate``, ``token_rewards``, ...).
    """
    samples = [SampleScore() for _ in responses]
    items: List[Dict[str, Any]] = []
    for i, (prompt, response) in enumerate(zip(prompts, responses)):
        steps = split_steps(response, separator)
        samples[i].spans = [(start, end) for _, start, end in steps]
        if not prompt:
            samples[i].error = NO_PROMPT
        elif not steps:
            samples[i].error = EMPTY_RESPONSE
        else:
            items.append({"id": str(i), "prompt": prompt, "steps": [text for text, _, _ in steps]})
    for start in range(0, len(items), batch_size):
        outcomes = _score_isolating(client, items[start:start + batch_size], options)
        for item_id, outcome in outcomes.items():
            sample = samples[int(item_id)]
            if isinstance(outcome, str):
                sample.error = outcome
            else:
                sample.result = outcome
    return samples


def _score_isolating(client: PrmClient, items: List[Dict[str, Any]], options: Dict[str, Any]) -> Dict[str, Any]:
    """Item id -> result, or -> error code; a refused request is bisected to find its bad items."""
    try:
        answer = client.score(items, **options)
        return {r["id"]: r for r in answer["results"]}
    except PrmError as err:
        splittable = err.status >= 400 and err.status < 500 and err.status not in (429, *_REQUEST_WIDE_STATUSES)
        if not splittable or len(items) == 1:
            return {item["id"]: err.code for item in items}
    except Exception as err:  # an answer of an unexpected shape must not stop training either
        return {item["id"]: f"{CLIENT_ERROR}: {type(err).__name__}" for item in items}
    half = len(items) // 2
    return {**_score_isolating(client, items[:half], options), **_score_isolating(client, items[half:], options)}


_separators: Dict[Tuple[str, Optional[str]], str] = {}


def step_separator(client: PrmClient, model: Optional[str]) -> str:
    """The step separator of ``model`` (default: the service's default model), asked once per
    process; raises PrmError while the service cannot say."""
    key = (client.base_url, model)
    if key not in _separators:
        listed = client.models()
        name = model or listed["default_model"]
        found = [entry["step_separator"] for entry in listed["models"] if entry["name"] == name]
        if not found:
            raise PrmError(404, "MODEL_NOT_FOUND", f"the service has no model {name!r}")
        _separators[key] = found[0]
    return _separators[key]
