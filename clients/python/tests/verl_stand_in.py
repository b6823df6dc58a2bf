"""A stand-in for verl's DataProto with exactly what reward managers read of it.

It mirrors verl/protocol.py (volcengine/verl at b178a3cd56f58b2d502255daba591e92833930a7):
``DataProto.batch`` is a TensorDict (here a dict of tensors: ``keys()`` and ``[name]`` are all the
managers use), ``non_tensor_batch`` a dict of numpy object arrays, ``meta_info`` a dict and
``__len__`` the batch size. The tensors are laid out as verl's rollout leaves them and as
verl/workers/reward_manager/naive.py and batch.py read them: ``prompts`` left-padded,
``responses`` right-padded, ``attention_mask`` the two masks side by side.
"""
from dataclasses import dataclass, field

import numpy as np


@dataclass
class DataProto:
    batch: dict
    non_tensor_batch: dict = field(default_factory=dict)
    meta_info: dict = field(default_factory=dict)

    def __len__(self):
        return self.batch["responses"].shape[0]


def rollout_batch(tokenizer, prompts, responses, extra_infos, prompt_length=24, response_length=48, finished=None):
    """A batch of sampled responses: each response's tokens, then EOS when it finished within
    ``response_length`` tokens (a response cut at the limit has none), then padding."""
    import torch

    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    prompt_rows, response_rows, masks = [], [], []
    for prompt, response in zip(prompts, responses):
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"][-prompt_length:]
        r = (tokenizer(response, add_special_tokens=False)["input_ids"] + [eos])[:response_length]
        prompt_rows.append([pad] * (prompt_length - len(p)) + p)
        response_rows.append(r + [pad] * (response_length - len(r)))
        masks.append([0] * (prompt_length - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (response_length - len(r)))
    batch = {
        "prompts": torch.tensor(prompt_rows),
        "responses": torch.tensor(response_rows),
        "attention_mask": torch.tensor(masks),
    }
    batch["input_ids"] = torch.cat([batch["prompts"], batch["responses"]], dim=-1)
    n = len(prompts)
    non_tensor = {
        "data_source": np.array(["arith"] * n, dtype=object),
        "reward_model": np.array([{"ground_truth": None, "style": "model"}] * n, dtype=object),
        "extra_info": np.array(extra_infos, dtype=object),
    }
    return DataProto(batch=batch, non_tensor_batch=non_tensor)
