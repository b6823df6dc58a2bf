"""Helpers for using implicit process rewards in RL training loops.

The PRM scores text; a policy is trained on its own tokens. Dense process rewards (PRIME-style:
each step's reward credited at the step's last token) therefore have to be moved from step
boundaries in the text to the policy's token positions, which these helpers do with the character
offsets any Hugging Face fast tokenizer returns (``return_offsets_mapping=True``).
"""
from __future__ import annotations

from typing import Callable, List, Sequence, Tuple


def split_steps(response: str, separator: str = "\n") -> List[Tuple[str, int, int]]:
    """Steps of a generated response as ``(text, start, end)`` character spans.

    Unlike the service's own splitting of ``response``, blank steps (a doubled separator, trailing
    whitespace) are dropped rather than rejected: a policy's sample should get a reward, not an
    EMPTY_STEP error that fails its whole batch.
    """
    out: List[Tuple[str, int, int]] = []
    pos = 0
    for part in response.split(separator):
        start, end = pos, pos + len(part)
        pos = end + len(separator)
        if part.strip():
            out.append((part, start, end))
    return out


def place_step_rewards(
    step_rewards: Sequence[float],
    step_spans: Sequence[Tuple[int, int]],
    token_offsets: Sequence[Tuple[int, int]],
) -> List[float]:
    """A dense reward per policy token: 0 everywhere except at the token holding each step's last
    character, which gets that step's reward.

    step_spans: ``(start, end)`` of each step in the response text (from :func:`split_steps`).
    token_offsets: ``(start, end)`` of each response token in the same text.
    """
    if len(step_rewards) != len(step_spans):
        raise ValueError(f"{len(step_rewards)} rewards for {len(step_spans)} steps")
    dense = [0.0] * len(token_offsets)
    if not token_offsets:
        return dense
    for reward, (_, end) in zip(step_rewards, step_spans):
        last_char = end - 1
        # The token covering the step's last character; else the last token starting before it.
        index = next((i for i, (s, e) in enumerate(token_offsets) if s <= last_char < e), None)
        if index is None:
            starts = [i for i, (s, _) in enumerate(token_offsets) if s <= last_char]
            index = starts[-1] if starts else 0
        dense[index] += reward
    return dense


def step_end_tokens(decode: Callable[[Sequence[int]], str], token_ids: Sequence[int], char_ends: Sequence[int]) -> List[int]:
    """The index of the policy token that ends each step, for rewards on the policy's own tokens.

    ``decode`` turns token ids into text exactly as the response text was made (verl decodes with
    ``skip_special_tokens=True``); ``char_ends`` are the steps' end offsets in that text. A step
    ends at the first token whose decoded prefix reaches the step's end, found by bisection, so a
    response of n tokens costs about log2(n) decodes per step and the tokens need not re-encode to
    the same ids (sampled token sequences often do not). Ends past the text go to the last token.
    """
    ends: List[int] = []
    low = 0
    for char_end in char_ends:
        high = len(token_ids) - 1
        while low < high:
            mid = (low + high) // 2
            if len(decode(token_ids[: mid + 1])) >= char_end:
                high = mid
            else:
                low = mid + 1
        ends.append(low)
    return ends
