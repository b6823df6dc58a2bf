"""`score`: the PyTorch reference scorer over a JSONL file, from a bundle folder alone."""
from __future__ import annotations

import json
import sys
import time

import torch

from .bundle import load_bundle
from .scoring import score_items


def run_score(bundle: str, in_path: str, out_path: str, threads: int = 2, batch_size: int = 16, beta: float = None,
              warmup_batches: int = 0) -> dict:
    """`warmup_batches`: score the longest batch this many times before the clock starts (results
    discarded), so that `seconds` does not include the thread pool starting and the allocator
    growing to the largest batch, which a server pays once and a benchmark excludes on its side."""
    torch.set_num_threads(max(1, threads))
    man, pol, ref, tok = load_bundle(bundle)
    with open(in_path, encoding="utf-8") as f:
        items = [json.loads(l) for l in f if l.strip()]
    for i, it in enumerate(items):
        it.setdefault("id", str(i))
        if "steps" not in it:
            it["steps"] = [s for s in it.get("response", "").split(man["step_separator"])]
    # length-sorted batches (less padding), results written back in input order
    from .scoring import segment
    lens = [sum(len(s) for s in segment(tok, man, it["prompt"], it["steps"])) for it in items]
    order = sorted(range(len(items)), key=lambda i: lens[i])
    results = [None] * len(items)
    longest = [items[i] for i in order[-batch_size:]]
    for _ in range(max(0, warmup_batches)):
        score_items(pol, ref, tok, man, longest, beta)
    t0 = time.perf_counter()
    tokens = 0
    for s in range(0, len(order), batch_size):
        idx = order[s: s + batch_size]
        for i, r in zip(idx, score_items(pol, ref, tok, man, [items[i] for i in idx], beta)):
            results[i] = r
            tokens += r["tokens"]
    secs = time.perf_counter() - t0
    with open(out_path, "w", encoding="utf-8") as f:
        for it, r in zip(items, results):
            r["id"] = it["id"]
            f.write(json.dumps(r) + "\n")
    summary = {"items": len(items), "tokens": tokens, "seconds": secs, "tokens_per_s": tokens / secs if secs > 0 else None,
               "threads": threads, "batch_size": batch_size, "warmup_batches": warmup_batches, "bundle": man["name"]}
    sys.stderr.write(json.dumps(summary) + "\n")
    return summary
