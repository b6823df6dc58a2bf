"""Temperature sampling with a KV cache (left-padded prompts; positions from the mask)."""
from __future__ import annotations

from typing import List, Optional

import torch
from tqdm import tqdm

from . import constants as C
from .model import GPT
from .tokenizer import CharTokenizer


@torch.no_grad()
def generate(model: GPT, tok: CharTokenizer, prompt_ids: List[List[int]], temperature: float = 1.0,
             max_new_tokens: int = 160, generator: Optional[torch.Generator] = None) -> List[List[int]]:
    """Samples one continuation per prompt; returns the new token ids up to (excluding) EOS."""
    model.eval()
    B = len(prompt_ids)
    P = max(len(p) for p in prompt_ids)
    max_new_tokens = min(max_new_tokens, model.cfg.max_seq_len - P)
    ids = torch.full((B, P), tok.pad_id, dtype=torch.long)
    mask = torch.zeros((B, P), dtype=torch.long)
    for i, p in enumerate(prompt_ids):
        ids[i, P - len(p):] = torch.tensor(p)
        mask[i, P - len(p):] = 1
    pos = (mask.cumsum(1) - 1).clamp(min=0)
    logits, past = model(ids, attention_mask=mask, position_ids=pos, past=model.empty_past(B))
    next_pos = pos[:, -1] + 1
    out = torch.full((B, max_new_tokens), tok.pad_id, dtype=torch.long)
    done = torch.zeros(B, dtype=torch.bool)
    lengths = torch.full((B,), max_new_tokens, dtype=torch.long)
    last = logits[:, -1]
    for t in range(max_new_tokens):
        if temperature <= 0:
            nxt = last.argmax(-1)
        else:
            probs = torch.softmax(last.float() / temperature, -1)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        nxt = torch.where(done, torch.full_like(nxt, tok.pad_id), nxt)
        out[:, t] = nxt
        newly = (~done) & (nxt == tok.eos_id)
        lengths[newly] = t
        done |= newly
        if bool(done.all()):
            break
        mask = torch.cat([mask, torch.ones(B, 1, dtype=torch.long)], 1)
        logits, past = model(nxt.unsqueeze(1), attention_mask=mask, position_ids=next_pos.unsqueeze(1), past=past)
        next_pos = next_pos + 1
        last = logits[:, -1]
    return [out[i, : int(lengths[i])].tolist() for i in range(B)], done.tolist()


def response_to_steps(text: str, sep: str = C.STEP_SEPARATOR) -> List[str]:
    return [s for s in text.split(sep) if s != ""]


@torch.no_grad()
def sample_solutions(model: GPT, tok: CharTokenizer, prompts: List[str], n: int, temperature: float = 1.0,
                     batch_size: int = 256, seed: int = 0, desc: str = "sampling", max_new_tokens: int = 160):
    """n samples per prompt → list (per prompt) of list of {"steps", "finished"}."""
    g = torch.Generator().manual_seed(seed)
    jobs = [(i, j) for i in range(len(prompts)) for j in range(n)]
    enc = [tok.encode(C.PROMPT_TEMPLATE.replace("{prompt}", p)) for p in prompts]
    res = [[None] * n for _ in prompts]
    for s in tqdm(range(0, len(jobs), batch_size), desc=desc, unit="batch", leave=False):
        chunk = jobs[s: s + batch_size]
        outs, fin = generate(model, tok, [enc[i] for i, _ in chunk], temperature, max_new_tokens, g)
        for (i, j), o, f in zip(chunk, outs, fin):
            text = tok.decode(o, skip_special=True)
            res[i][j] = {"steps": response_to_steps(text), "finished": bool(f)}
    return res
