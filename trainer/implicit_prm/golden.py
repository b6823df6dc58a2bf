"""Golden fixtures (ARCHITECTURE.md §2): token ids, per-token log-probs, q and step rewards from
PyTorch — transformers' own forward for bundles that keep their checkpoints, else the fixtures' GPT."""
from __future__ import annotations

import json
import os
from typing import List, Optional

import torch

from .bundle import load_bundle
from .scoring import next_token_logprobs, rewards_from_logprobs, segment, step_ends

# Varied step counts (1..6), right and wrong solutions, and characters outside the vocab (unk).
GOLDEN_CASES = [
    {"prompt": "7*3", "steps": ["Answer: 21"]},
    {"prompt": "12+7", "steps": ["12+7=19", "Answer: 19"]},
    {"prompt": "48+27-19", "steps": ["48+27=75", "75-19=56", "Answer: 56"]},
    {"prompt": "48+27-19", "steps": ["48+27=65", "65-19=46", "Answer: 46"]},
    {"prompt": "35-18*4+62", "steps": ["35-18=17", "17*4=68", "68+62=130", "Answer: 130"]},
    {"prompt": "35-18*4+62", "steps": ["35-18=23", "23*4=92", "92+62=154", "Answer: 154"]},
    {"prompt": "90-45+38*2-17", "steps": ["90-45=45", "45+38=83", "83*2=166", "166-17=149", "Answer: 149"]},
    {"prompt": "14*6-27+55-36+9", "steps": ["14*6=84", "84-27=57", "57+55=112", "112-36=76", "76+9=85", "Answer: 85"]},
    {"prompt": "48×2", "steps": ["48×2=96 ✓", "Answer: ninety-six — é"]},
    {"prompt": "3+4", "steps": ["  3 + 4 = 7  ", "Answer: 7"]},
]


@torch.no_grad()
def single_logprobs(model, seq: List[int], prompt_len: int) -> torch.Tensor:
    ids = torch.tensor([seq])
    return next_token_logprobs(model(ids), ids)[0, prompt_len - 1:]


def transformers_dir(bundle_dir: str) -> Optional[str]:
    """A bundle built from transformers checkpoints keeps them in `transformers/` (the default model)."""
    d = os.path.join(bundle_dir, "transformers")
    return d if os.path.isdir(os.path.join(d, "policy")) else None


def make_hf_cases(bundle_dir: str, cases) -> list:
    """Golden cases from the transformers checkpoints' own forward (one item per forward)."""
    from .bundle import read_manifest
    from .hf_scoring import HfScorer, batch_logprobs

    man, d = read_manifest(bundle_dir), transformers_dir(bundle_dir)
    scorer = HfScorer(os.path.join(d, "policy"), os.path.join(d, "reference") if man.get("reference") else None, man)
    out = []
    for i, c in enumerate(cases):
        segs = scorer.segments(c)
        seq, plen = sum(segs, []), len(segs[0])
        plp = batch_logprobs(scorer.policy, [seq], [plen], scorer.pad_id)[0]
        rlp = batch_logprobs(scorer.reference, [seq], [plen], scorer.pad_id)[0] if scorer.reference is not None else None
        out.append(golden_case(i, c, segs, plp, rlp, man["beta"]))
    return out


def golden_case(i: int, c: dict, segs, plp, rlp, beta: float) -> dict:
    q, r = rewards_from_logprobs(plp, rlp, step_ends(segs), beta)
    return {"id": c.get("id", f"case-{i}"), "prompt": c["prompt"], "steps": list(c["steps"]), "segment_ids": segs,
            "policy_logprobs": [float(x) for x in plp],
            "reference_logprobs": [float(x) for x in rlp] if rlp is not None else None,
            "q": q, "step_rewards": r, "outcome_reward": q[-1]}


def make_golden(bundle_dir: str, bundle_dir_rel: Optional[str] = None, cases=None) -> dict:
    from .bundle import read_manifest

    cases = GOLDEN_CASES if cases is None else cases
    man = read_manifest(bundle_dir)
    out_cases = make_hf_cases(bundle_dir, cases) if transformers_dir(bundle_dir) else gpt_cases(bundle_dir, cases)
    return {
        "bundle": man["name"],
        "bundle_dir": bundle_dir_rel if bundle_dir_rel is not None else bundle_dir,
        "fingerprint": man.get("fingerprint"),
        "beta": man["beta"],
        "cases": out_cases,
    }


def gpt_cases(bundle_dir: str, cases) -> list:
    """Golden cases of the test fixtures' own GPT, rebuilt from the bundle's ONNX initializers."""
    man, pol, ref, tok = load_bundle(bundle_dir)
    out_cases = []
    for i, c in enumerate(cases):
        segs = segment(tok, man, c["prompt"], c["steps"])
        seq = sum(segs, [])
        if len(seq) > man["max_sequence_length"]:
            raise ValueError(f"case {i} longer than max_sequence_length")
        plp = single_logprobs(pol, seq, len(segs[0]))
        rlp = single_logprobs(ref, seq, len(segs[0])) if ref is not None else None
        out_cases.append(golden_case(i, c, segs, plp, rlp, man["beta"]))
    return out_cases


def dumps_golden(g: dict) -> str:
    """Readable but compact: header fields one per line, one line per case."""
    head = {k: v for k, v in g.items() if k != "cases"}
    lines = ["{"]
    for k, v in head.items():
        lines.append(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},")
    lines.append('  "cases": [')
    cs = [json.dumps(c, ensure_ascii=False, separators=(", ", ": ")) for c in g["cases"]]
    lines.append(",\n".join("    " + c for c in cs))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_golden(bundle_dir: str, out_path: str, bundle_dir_rel: Optional[str] = None, cases=None) -> dict:
    g = make_golden(bundle_dir, bundle_dir_rel, cases)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(dumps_golden(g))
    return g
