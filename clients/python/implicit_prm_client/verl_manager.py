"""A verl reward manager that credits each step's implicit process reward at the policy token
ending the step (PRIME-style dense rewards), in the token-level reward tensor verl trains on.

verl loads it with its importlib mechanism (``verl.trainer.ppo.reward.load_reward_manager``)
on the trainer's legacy reward path, the one that calls a reward manager on each batch:

    reward_model.use_reward_loop=False
    reward_manager.source=importlib
    reward_manager.module.path=pkg://implicit_prm_client.verl_manager
    reward_manager.name=ImplicitPrmRewardManager
    +reward_model.reward_kwargs.prm_url=http://prm-host:8080

It follows ``verl.workers.reward_manager.abstract.AbstractRewardManager``'s interface without
importing verl (which needs Ray and a GPU stack to import): the constructor takes ``tokenizer``,
``num_examine``, ``compute_score``, ``reward_fn_key`` and the ``reward_kwargs``, and a call takes
the batch's ``DataProto`` and returns the reward tensor, or with ``return_dict=True``
``{"reward_tensor", "reward_extra_info"}``. torch is imported on the first call, so the client
package itself stays standard library only.

A sample that cannot be scored gets ``fallback_reward`` on its last response token, and its
reason in ``reward_extra_info["prm_error"]``; the call never raises for a sample's sake.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple

from implicit_prm_client.rl import step_end_tokens
from implicit_prm_client.sample_scoring import SampleScore
from implicit_prm_client.settings import PrmSettings
from implicit_prm_client.verl_reward import problem_text, scalar_reward, score_batch

# "step": r_k at the token ending step k (they sum to the outcome reward q_n).
# "last": the aggregate score at the last response token, as verl's own managers place a score.
PLACEMENTS = ("step", "last")


class ImplicitPrmRewardManager:
    """Dense implicit process rewards for verl; see the module docstring for the config lines.

    reward_kwargs: the ``prm_*`` settings and ``fallback_reward`` of :class:`PrmSettings`, and
    ``placement`` (``"step"`` or ``"last"``). ``compute_score`` is accepted and unused: the
    rewards come from the service.
    """

    def __init__(self, tokenizer: Any, num_examine: int = 0, compute_score: Any = None,
                 reward_fn_key: str = "data_source", **reward_kwargs: Any) -> None:
        self.tokenizer = tokenizer
        self.num_examine = num_examine
        self.reward_fn_key = reward_fn_key
        self.settings = PrmSettings.resolve(reward_kwargs)
        self.placement = str(reward_kwargs.get("placement") or "step")
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}, not {self.placement!r}")
        self._warned_rm_scores = False

    def __call__(self, data: Any, return_dict: bool = False) -> Any:
        import torch

        if "rm_scores" in data.batch.keys():
            return self._rollout_scores(data, return_dict)
        prompt_length = data.batch["prompts"].shape[-1]
        lengths = data.batch["attention_mask"][:, prompt_length:].sum(dim=-1).tolist()
        response_ids = [data.batch["responses"][i][: lengths[i]].tolist() for i in range(len(data))]
        responses = [self._decode(ids) for ids in response_ids]
        prompts = [self._prompt(data, i, prompt_length) for i in range(len(data))]
        scored = score_batch(self.settings, prompts, responses)

        reward_tensor = torch.zeros_like(data.batch["responses"], dtype=torch.float32)
        extra: Dict[str, List[Any]] = defaultdict(list)
        for i, sample in enumerate(scored):
            for position, reward in self._placed(sample, response_ids[i]):
                reward_tensor[i, position] += reward
            for key, value in scalar_reward(sample, self.settings.fallback_reward).items():
                extra[key].append(value)
        self._examine(data, prompts, responses, extra)
        if return_dict:
            return {"reward_tensor": reward_tensor, "reward_extra_info": dict(extra)}
        return reward_tensor

    def _placed(self, sample: SampleScore, token_ids: List[int]) -> List[Tuple[int, float]]:
        """(token index, reward) pairs of one sample; nothing for a response without tokens."""
        if not token_ids:
            return []
        last = len(token_ids) - 1
        if sample.result is None:
            return [(last, self.settings.fallback_reward)]
        if self.placement == "last":
            return [(last, float(sample.result["score"]))]
        ends = step_end_tokens(self._decode, token_ids, [end for _, end in sample.spans])
        return [(index, float(step["reward"])) for index, step in zip(ends, sample.result["steps"])]

    def _decode(self, token_ids: Any) -> str:
        # As verl's own managers decode responses (NaiveRewardManager.__call__).
        return self.tokenizer.decode(token_ids, skip_special_tokens=True)

    def _prompt(self, data: Any, i: int, prompt_length: int) -> Optional[str]:
        """The problem text from the row's extra_info, else the decoded prompt tokens (left-padded,
        so the valid ones are the last ``attention_mask[:prompt_length].sum()``)."""
        extra_infos = data.non_tensor_batch.get("extra_info")
        found = problem_text(extra_infos[i]) if extra_infos is not None else None
        if found is not None:
            return found
        valid = int(data.batch["attention_mask"][i][:prompt_length].sum())
        return self._decode(data.batch["prompts"][i][prompt_length - valid:].tolist()) if valid else None

    def _rollout_scores(self, data: Any, return_dict: bool) -> Any:
        """Scores the rollout already computed (verl's reward loop) pass through, as in
        ``AbstractRewardManager._extract_reward_from_rm_scores``; dense rewards need the loop off."""
        if not self._warned_rm_scores:
            self._warned_rm_scores = True
            print("implicit-prm: the batch already has rm_scores (reward_model.use_reward_loop=True); "
                  "set reward_model.use_reward_loop=False for dense process rewards", file=sys.stderr)
        if not return_dict:
            return data.batch["rm_scores"]
        keys = data.meta_info.get("reward_extra_keys", [])
        return {"reward_tensor": data.batch["rm_scores"], "reward_extra_info": {k: data.non_tensor_batch[k] for k in keys}}

    def _examine(self, data: Any, prompts: List[Optional[str]], responses: List[str], extra: Dict[str, List[Any]]) -> None:
        """Prints the first ``num_examine`` samples of each data source, as verl's managers do."""
        if self.num_examine <= 0:
            return
        sources = data.non_tensor_batch.get(self.reward_fn_key)
        printed: Dict[Any, int] = defaultdict(int)
        for i, response in enumerate(responses):
            source = sources[i] if sources is not None else None
            if printed[source] >= self.num_examine:
                continue
            printed[source] += 1
            print("[prompt]", prompts[i])
            print("[response]", response)
            print("[score]", extra["score"][i], "[prm_error]", extra["prm_error"][i] or "-")
