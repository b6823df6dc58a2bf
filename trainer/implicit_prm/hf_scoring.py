"""Reference scorer for Hugging Face models: the implicit-PRM paper's computation on the original
transformers checkpoints (not on the exported graphs), so the service's numbers on an imported
bundle can be checked against what the model's own code computes.

Items are scored in right-padded batches (one forward per model per batch), as the paper's code
does with its data loader. Token ids follow the bundle's text format (ARCHITECTURE.md §1): the
whole rendered text (prompt, steps joined by the separator) tokenized with transformers, control
tokens from the templates only, cut at the step boundaries by prefix tokenization, + EOS when the
bundle says so. Then, per model, one transformers
forward over the whole sequence, log_softmax + gather of each next token, ℓ_i = log πφ − log πref,
q_k = β·Σ ℓ_i up to the end of step k, r_k = q_k − q_{k−1}.
"""
from __future__ import annotations

import json
import re
from typing import List, Optional, Sequence, Tuple

import torch

from .scoring import padded_batch, response_logprobs_of, rewards_from_logprobs, step_ends


CONTENT_MARKER = "\ue000prm-content\ue000"


def prompt_parts(tok, manifest: dict, prompt: str) -> List[Tuple[str, bool]]:
    """The rendered prompt as (text, is user text) parts: bundle text around the user's prompt."""
    if not manifest["use_chat_template"]:
        pieces = manifest["prompt_template"].split("{prompt}")
        parts = [(pieces[0], False)]
        for piece in pieces[1:]:
            parts += [(prompt, True), (piece, False)]
        return parts
    render = lambda c: tok.apply_chat_template([{"role": "user", "content": c}], tokenize=False, add_generation_prompt=True)  # noqa: E731
    rendered, around = render(prompt), render(CONTENT_MARKER).split(CONTENT_MARKER)
    if len(around) != 2 or not rendered.startswith(around[0]) or not rendered.endswith(around[1]):
        return [(rendered, False)]
    return [(around[0], False), (rendered[len(around[0]):len(rendered) - len(around[1])], True), (around[1], False)]


def encode_parts(tok, parts: Sequence[Tuple[str, bool]]) -> List[int]:
    """Control tokens from bundle text only; every run between them tokenized with special tokens
    as text (split_special_tokens=True)."""
    specials = {t.content: i for i, t in tok.added_tokens_decoder.items() if t.special}
    pattern = re.compile("|".join(re.escape(t) for t in sorted(specials, key=len, reverse=True))) if specials else None
    ids: List[int] = []
    run = ""
    for text, literal in parts:
        at = 0
        if not literal and pattern is not None:
            for m in pattern.finditer(text):
                run += text[at:m.start()]
                if run:
                    ids += tok(run, add_special_tokens=False, split_special_tokens=True)["input_ids"]
                run = ""
                ids.append(specials[m.group(0)])
                at = m.end()
        run += text[at:]
    if run:
        ids += tok(run, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    return ids


def segment_ids(tok, manifest: dict, prompt: str, steps: Sequence[str], partial: bool = False) -> List[List[int]]:
    """The whole text's ids cut at the step boundaries (ARCHITECTURE.md §1): segment k ends after
    the whole-text tokens that tokenizing the text through segment k alone reproduces, or, with
    step_boundaries "eos-separator", after as many tokens as the text through step k + EOS +
    separator has (the EurusPRM model cards' rule). `partial`: the trace will be extended, so its
    last step keeps the separator and gets no EOS."""
    sep = (manifest["step_separator"], False)
    pieces = [prompt_parts(tok, manifest, prompt)]
    for k, step in enumerate(steps):
        pieces.append([(step, True)] + ([sep] if k < len(steps) - 1 or partial else []))
    whole = encode_parts(tok, [p for piece in pieces for p in piece])
    if manifest.get("step_boundaries", "prefix") == "eos-separator":
        cuts = eos_separator_cuts(tok, pieces, sep, len(whole))
    else:
        cuts = prefix_cuts(tok, pieces, whole)
    segs = [whole[(cuts[k - 1] if k else 0):end] for k, end in enumerate(cuts)]
    if manifest["append_eos"] and not partial:
        segs[-1] = segs[-1] + [tok.convert_tokens_to_ids(tok.eos_token)]
    return segs


def prefix_cuts(tok, pieces, whole) -> List[int]:
    cuts, prefix = [], []
    for piece in pieces[:-1]:
        prefix += piece
        alone = encode_parts(tok, prefix)
        n = 0
        while n < len(alone) and n < len(whole) and alone[n] == whole[n]:
            n += 1
        cuts.append(max([n] + cuts[-1:]))
    return cuts + [len(whole)]


def eos_separator_cuts(tok, pieces, sep, total: int) -> List[int]:
    eos = (tok.eos_token, False)
    cuts, prefix = [len(encode_parts(tok, pieces[0] + [eos])) - 2], list(pieces[0])
    for piece in pieces[1:-1]:
        prefix += piece
        cuts.append(min(total, max(cuts[-1], len(encode_parts(tok, prefix[:-1] + [eos, sep])))))
    return cuts + [total]


@torch.no_grad()
def batch_logprobs(model, seqs: List[List[int]], prompt_lens: List[int], pad_id: int) -> List[torch.Tensor]:
    """Response-token log-probs of each sequence from one right-padded transformers forward."""
    ids, mask = padded_batch(seqs, pad_id)
    return response_logprobs_of(model(input_ids=ids, attention_mask=mask).logits, ids, seqs, prompt_lens)


def step_rewards(pol: torch.Tensor, ref: Optional[torch.Tensor], segs: List[List[int]], beta: float) -> dict:
    q, r = rewards_from_logprobs(pol, ref, step_ends(segs), beta)
    return {"q": q, "step_rewards": r, "outcome_reward": q[-1]}


class HfScorer:
    """Both transformers models and the tokenizer, loaded once; `score` takes items in batches."""

    def __init__(self, policy_dir: str, reference_dir: Optional[str], manifest: dict):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(policy_dir)
        load = lambda d: AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()  # noqa: E731
        self.policy, self.reference = load(policy_dir), (load(reference_dir) if reference_dir else None)
        self.manifest = manifest
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else self.tok.eos_token_id
        self.pad_id = 0 if pad is None else pad

    def segments(self, item: dict) -> List[List[int]]:
        return segment_ids(self.tok, self.manifest, item["prompt"], item["steps"], bool(item.get("partial")))

    def score(self, items: Sequence[dict], beta: Optional[float] = None, segss: Optional[List[List[List[int]]]] = None) -> List[dict]:
        """`segss`: the items' segments when already computed (the benchmark tokenizes before timing)."""
        b = self.manifest["beta"] if beta is None else beta
        segss = segss if segss is not None else [self.segments(it) for it in items]
        seqs, plens = [sum(x, []) for x in segss], [len(x[0]) for x in segss]
        pol = batch_logprobs(self.policy, seqs, plens, self.pad_id)
        ref = batch_logprobs(self.reference, seqs, plens, self.pad_id) if self.reference is not None else [None] * len(seqs)
        return [{"id": it.get("id"), "segment_ids": segs, "tokens": len(seq), **step_rewards(p, r, segs, b)}
                for it, segs, seq, p, r in zip(items, segss, seqs, pol, ref)]


def score(policy_dir: str, reference_dir: Optional[str], manifest: dict, items: Sequence[dict], beta: Optional[float] = None):
    """One item per forward, as the model card's code does."""
    scorer = HfScorer(policy_dir, reference_dir, manifest)
    return [scorer.score([it], beta)[0] for it in items]


def score_files(policy_dir: str, reference_dir: Optional[str], bundle_dir: str, inp: str, out: str,
                threads: int = 2, batch_size: int = 8, warmup_batches: int = 0) -> dict:
    """Length-sorted batches of `batch_size`; writes results in input order and returns (and prints
    to stderr) a summary whose `seconds` leaves out loading and `warmup_batches` untimed passes."""
    import sys
    import time

    from .bundle import read_manifest

    torch.set_num_threads(max(1, threads))
    with open(inp, encoding="utf-8") as f:
        items = [json.loads(line) for line in f if line.strip()]
    scorer = HfScorer(policy_dir, reference_dir, read_manifest(bundle_dir))
    # Tokenized before the clock starts: the baseline is not charged for tokenization (the
    # service's figures, measured over HTTP, include its own).
    segments = [scorer.segments(it) for it in items]
    order = sorted(range(len(items)), key=lambda i: sum(len(x) for x in segments[i]))
    for _ in range(max(0, warmup_batches)):
        scorer.score([items[i] for i in order[-batch_size:]], segss=[segments[i] for i in order[-batch_size:]])
    results, t0 = [None] * len(items), time.perf_counter()
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        for i, r in zip(idx, scorer.score([items[i] for i in idx], segss=[segments[i] for i in idx])):
            results[i] = r
    seconds = time.perf_counter() - t0
    with open(out, "w", encoding="utf-8") as f:
        for it, r in zip(items, results):
            r["id"] = it.get("id", r["id"])
            f.write(json.dumps(r) + "\n")
    tokens = sum(r["tokens"] for r in results)
    summary = {"items": len(items), "tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds if seconds > 0 else None,
               "threads": threads, "batch_size": batch_size, "warmup_batches": warmup_batches, "scorer": "transformers"}
    sys.stderr.write(json.dumps(summary) + "\n")
    return summary
