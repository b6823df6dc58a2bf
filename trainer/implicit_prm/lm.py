"""The trainer's language models are transformers causal LMs (a small Llama): one place for their
configuration, the tokenization of a trace in the served bundle's text format, right-padded
batches, per-token log-probs and sampling."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch

from . import constants as C
from .hf_scoring import encode_parts, prompt_parts, segment_ids
from .scoring import next_token_logprobs

# The bundle text format as the manifest fields hf_scoring.segment_ids reads.
TEXT_FORMAT = {**C.TEXT_FORMAT, "use_chat_template": False, "step_boundaries": "prefix"}


def llama_config(vocab_size: int, hidden: int, layers: int, heads: int, kv_heads: int, intermediate: int,
                 max_positions: int, eos_id: int, pad_id: int):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=intermediate,
                       num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                       max_position_embeddings=max_positions, tie_word_embeddings=False, eos_token_id=eos_id,
                       pad_token_id=pad_id, bos_token_id=None)


def new_model(config, seed: int):
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def load_model(path: str):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()


def encode_trace(tok, prompt: str, steps: Sequence[str]) -> Tuple[List[int], int, List[int]]:
    """(ids of prompt + steps + EOS, prompt length, index into the response of each step's last token)."""
    segs = segment_ids(tok, TEXT_FORMAT, prompt, steps)
    ends, n = [], 0
    for s in segs[1:]:
        n += len(s)
        ends.append(n - 1)
    return sum(segs, []), len(segs[0]), ends


def pad_batch(examples: Sequence[Tuple[List[int], int]], pad_id: int):
    """→ ids [B,T], attention mask [B,T], response mask [B,T-1] (1 where ids[:, t+1] is a response token)."""
    T = max(len(s) for s, _ in examples)
    ids = torch.full((len(examples), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), T), dtype=torch.long)
    response = torch.zeros((len(examples), T - 1), dtype=torch.float32)
    for i, (s, p) in enumerate(examples):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
        response[i, p - 1:len(s) - 1] = 1.0
    return ids, mask, response


def token_logprobs(model, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B, T-1]: log p(ids[:, t+1] | ids[:, :t+1]), log_softmax over the vocabulary then gather."""
    return next_token_logprobs(model(input_ids=ids, attention_mask=mask).logits, ids)


@torch.no_grad()
def response_logprobs(model, examples: Sequence[Tuple[List[int], int]], pad_id: int, batch_size: int = 256) -> List[torch.Tensor]:
    """Each example's response-token log-probs (float64), in length-sorted batches."""
    order = sorted(range(len(examples)), key=lambda i: len(examples[i][0]))
    out: List[Optional[torch.Tensor]] = [None] * len(examples)
    for b in range(0, len(order), batch_size):
        idx = order[b:b + batch_size]
        ids, mask, _ = pad_batch([examples[i] for i in idx], pad_id)
        lp = token_logprobs(model, ids, mask)
        for row, i in enumerate(idx):
            s, p = examples[i]
            out[i] = lp[row, p - 1:len(s) - 1].double()
    return out


@torch.no_grad()
def sample(model, tok, prompts: Sequence[str], n: int, temperature: float, seed: int, max_new_tokens: int,
           batch_size: int = 512) -> List[List[dict]]:
    """n samples per prompt at `temperature` (no top-k/top-p) → per prompt [{"steps", "finished"}]."""
    torch.manual_seed(seed)
    jobs = [(i, j) for i in range(len(prompts)) for j in range(n)]
    enc = [encode_parts(tok, prompt_parts(tok, TEXT_FORMAT, p)) for p in prompts]
    res: List[List[dict]] = [[None] * n for _ in prompts]
    for s in range(0, len(jobs), batch_size):
        chunk = jobs[s:s + batch_size]
        width = max(len(enc[i]) for i, _ in chunk)
        ids = torch.full((len(chunk), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, (i, _) in enumerate(chunk):
            ids[row, width - len(enc[i]):] = torch.tensor(enc[i])
            mask[row, width - len(enc[i]):] = 1
        out = model.generate(input_ids=ids, attention_mask=mask, do_sample=True, temperature=temperature, top_k=0,
                             top_p=1.0, max_new_tokens=max_new_tokens, pad_token_id=tok.pad_token_id,
                             eos_token_id=tok.eos_token_id)
        for row, (i, j) in enumerate(chunk):
            new = out[row, width:].tolist()
            finished = tok.eos_token_id in new
            new = new[:new.index(tok.eos_token_id)] if finished else new
            text = tok.decode([t for t in new if t != tok.pad_token_id], skip_special_tokens=True)
            res[i][j] = {"steps": [x for x in text.split(C.STEP_SEPARATOR) if x != ""], "finished": finished}
    return res
