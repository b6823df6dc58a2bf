"""Implicit process rewards as OpenRLHF's remote reward model.

OpenRLHF needs no plugin: point its PPO/REINFORCE trainer at the service's /get_reward route and
it posts every rollout batch there:

    python -m openrlhf.cli.train_ppo_ray \\
        --pretrain <policy> --prompt_data <prompts> ... \\
        --remote_rm_url http://prm-host:8080/get_reward

The request is ``{"query": [prompt + response, ...], "prompts": [prompt, ...], "labels": [...]}``
and the answer's ``rewards`` (also ``scores``) holds one number per query: the min step reward by
default (``/get_reward?aggregate=sum`` or a reverse proxy can choose another). ``extra_logs``
(outcome reward, number of steps) shows up in OpenRLHF's logs; ``step_rewards`` is there for
trainers that use dense rewards. Labels are ignored: implicit PRMs need none.

The prompt is passed to the PRM's own template verbatim, so ``prompts[i]`` should be the problem
text the PRM was trained on. If your policy's prompts carry a chat template, give OpenRLHF
``--input_template``-free prompts or strip the template in a small proxy.

Run this file to send one batch the way OpenRLHF does and print the rewards:

    PRM_URL=http://127.0.0.1:8080 python3 examples/openrlhf_remote_rm.py
"""
from __future__ import annotations

import json
import os
import sys
import urllib.request
from typing import Any, List, Optional, Sequence


def remote_rm_fn(api_url: str, queries: Sequence[str], prompts: Sequence[str], labels: Optional[Sequence[Any]] = None,
                 api_key: Optional[str] = None) -> List[float]:
    """What OpenRLHF's remote reward call does, in the standard library: one POST per batch,
    rewards read from the answer. (OpenRLHF itself uses `requests`; the wire format is the same.)"""
    body = {"query": list(queries), "prompts": list(prompts), "labels": list(labels or [None] * len(queries))}
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    req = urllib.request.Request(api_url, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=60) as res:
        answer = json.loads(res.read())
    return [float(r) for r in answer["rewards"]]


# A rollout batch: one prompt, two sampled solutions (the second makes a borrow mistake).
PROMPT = "48+27-39*2"
RESPONSES = [
    "48+27=75\n75-39=36\n36*2=72\nAnswer: 72",
    "48+27=75\n75-39=44\n44*2=88\nAnswer: 88",
]


def main() -> int:
    base = os.environ.get("PRM_URL", "http://127.0.0.1:8080").rstrip("/")
    queries = [f"{PROMPT}\n{r}" for r in RESPONSES]
    rewards = remote_rm_fn(f"{base}/get_reward", queries, [PROMPT] * len(queries), api_key=os.environ.get("PRM_API_KEY"))
    for response, reward in zip(RESPONSES, rewards):
        print(f"{reward:+.4f}  {response.splitlines()[1]} ...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
