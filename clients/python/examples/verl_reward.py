"""Implicit process rewards as a verl custom reward function.

Per sample (verl's default reward manager):

    custom_reward_function.path=clients/python/examples/verl_reward.py \\
    custom_reward_function.name=compute_score

Per batch, one HTTP request for the whole batch (faster; verl's ``batch`` reward manager):

    reward_model.reward_manager=batch \\
    custom_reward_function.path=clients/python/examples/verl_reward.py \\
    custom_reward_function.name=compute_score_batch

Both return, per sample, a dict whose ``score`` verl uses as the reward (placed on the last
response token) and whose other keys verl keeps as ``reward_extra_info``: the dense rewards
``step_rewards`` (r_k per step), ``token_rewards`` (β·ℓ per PRM token, flattened) and
``step_char_ends`` (where each step ends in the response text), so a custom reward manager can
credit each step's reward at the policy token that ends the step (PRIME-style dense rewards)
with ``implicit_prm_client.place_step_rewards``; see ``dense_token_rewards`` below.

The prompt must reach the reward function: verl passes the dataset row's ``extra_info``, so put
the problem text there as ``extra_info["question"]`` (or ``"prompt"``) when preparing the data.

Settings (environment): PRM_URL (default http://127.0.0.1:8080), PRM_API_KEY, PRM_MODEL (default:
the service's), PRM_AGGREGATE (min | sum | last | mean; default min).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

try:
    from implicit_prm_client import PrmClient, place_step_rewards, split_steps
except ImportError:  # run from a checkout without installing the client
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from implicit_prm_client import PrmClient, place_step_rewards, split_steps

_client: Optional[PrmClient] = None
_separator: Optional[str] = None


def _prm() -> PrmClient:
    """One client per worker process, created on first use (verl imports this file in workers)."""
    global _client, _separator
    if _client is None:
        _client = PrmClient(os.environ.get("PRM_URL", "http://127.0.0.1:8080"), api_key=os.environ.get("PRM_API_KEY"))
        listed = _client.models()
        name = os.environ.get("PRM_MODEL") or listed["default_model"]
        _separator = next(m["step_separator"] for m in listed["models"] if m["name"] == name)
    return _client


def _question(extra_info: Optional[Dict[str, Any]]) -> str:
    for key in ("question", "prompt", "problem"):
        if extra_info and isinstance(extra_info.get(key), str):
            return extra_info[key]
    raise ValueError("verl_reward needs the problem text in extra_info['question'] (or 'prompt'); add it when preparing the dataset")


def compute_score_batch(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Optional[Dict[str, Any]]],
    **_: Any,
) -> List[Dict[str, Any]]:
    """Scores a batch in one request; returns one dict per sample (see the module docstring)."""
    client = _prm()
    spans = [split_steps(s, _separator or "\n") for s in solution_strs]
    items = [{"id": str(i), "prompt": _question(x), "steps": [t for t, _, _ in sp]} for i, (x, sp) in enumerate(zip(extra_infos, spans)) if sp]
    results: Dict[str, Dict[str, Any]] = {}
    if items:
        res = client.score(items, model=os.environ.get("PRM_MODEL") or None,
                           aggregate=os.environ.get("PRM_AGGREGATE", "min"), token_rewards=True)
        results = {r["id"]: r for r in res["results"]}
    out: List[Dict[str, Any]] = []
    for i, sp in enumerate(spans):
        r = results.get(str(i))
        if r is None:  # an empty response: nothing to score
            out.append({"score": 0.0, "outcome_reward": 0.0, "step_rewards": [], "token_rewards": [], "step_char_ends": []})
            continue
        out.append({
            "score": r["score"],
            "outcome_reward": r["outcome_reward"],
            "step_rewards": [s["reward"] for s in r["steps"]],
            "token_rewards": [t for step in r["token_rewards"] for t in step],
            "step_char_ends": [end for _, _, end in sp],
        })
    return out


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Optional[Dict[str, Any]] = None,
                  **kwargs: Any) -> Dict[str, Any]:
    """verl's per-sample reward function signature."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], **kwargs)[0]


def dense_token_rewards(tokenizer: Any, solution_str: str, scored: Dict[str, Any]) -> List[float]:
    """Step rewards placed on the policy's response tokens (each at the token ending its step),
    for a custom reward manager that writes them into ``token_level_scores`` instead of putting
    ``score`` on the last token. ``tokenizer`` is the policy's Hugging Face fast tokenizer."""
    enc = tokenizer(solution_str, add_special_tokens=False, return_offsets_mapping=True)
    spans = [(end - 1, end) for end in scored["step_char_ends"]]
    return place_step_rewards(scored["step_rewards"], spans, enc["offset_mapping"])


if __name__ == "__main__":
    sample = compute_score("arith", "48+27=75\n75-19=64\n64*3=192\nAnswer: 192", "168", {"question": "48+27-19*3"})
    print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in sample.items() if k != "token_rewards"})
