"""The kinds of mistake a solution can make, as text: the student's random slips (data.py draws
them) and planted single errors for evaluation (one mistake in an otherwise right solution).

Every kind writes steps that stay in the documented format, and after the mistake the solution goes
on correctly from the value it wrote, so the checker's first wrong step is the mistake's step.
"""
from __future__ import annotations

import random
from typing import List, Optional, Tuple

from .data import OPS, Problem, add_no_carry, apply, check, correct_solution, mul_no_carry, sub_smaller_from_larger

# Slips the student makes (data.SLIP_RATES), each as one wrong step.
SLIP_KINDS = ("off_by_one", "off_by_ten", "digit_swap", "miscopied_value", "miscopied_operand",
              "skipped_operation", "repeated_operation")
SYSTEMATIC_KINDS = ("borrow", "carry", "mulcarry")
# Planted for evaluation only: the student never makes these, so the PRM never saw them in training.
HELD_OUT_KINDS = ("wrong_operator", "off_by_two_to_nine")
PLANTED_KINDS = SYSTEMATIC_KINDS + SLIP_KINDS + ("wrong_answer",) + HELD_OUT_KINDS


def swap_digits(n: int) -> Optional[int]:
    s = str(abs(n))
    if len(s) < 2 or s[-1] == s[-2]:
        return None
    w = int(s[:-2] + s[-1] + s[-2])
    return -w if n < 0 else w


def wrong_value(n: int, kind: str, rng: random.Random) -> Optional[int]:
    """A value that differs from n the way `kind` does; None when the kind cannot apply to n."""
    if kind == "off_by_one":
        return n + rng.choice((-1, 1))
    if kind == "off_by_ten":
        return n + rng.choice((-10, 10))
    if kind == "digit_swap":
        return swap_digits(n)
    if kind == "off_by_two_to_nine":
        return n + rng.choice((-1, 1)) * rng.randint(2, 9)
    # a miscopy: any of the three above
    for k in rng.sample(("off_by_one", "off_by_ten", "digit_swap"), 3):
        w = wrong_value(n, k, rng)
        if w is not None:
            return w
    return None


def wrong_operand(op: str, b: int, rng: random.Random) -> int:
    if op == "*":
        return rng.choice([m for m in range(2, 10) if m != b])
    w = wrong_value(b, "miscopy", rng)
    return w if w is not None and w > 0 else b + 1


def step(a: int, op: str, b: int, result: Optional[int] = None) -> Tuple[str, int]:
    r = apply(op, a, b) if result is None else result
    return f"{a}{op}{b}={r}", r


def slip_steps(p: Problem, i: int, v: int, kind: Optional[str], rng: random.Random):
    """The steps written for operation i from value v with the slip `kind` (None: no slip):
    ([(step text, mistake or None)], value after, index of the next operation)."""
    op, b = p.ops[i]
    if kind in ("off_by_one", "off_by_ten", "digit_swap", "off_by_two_to_nine"):
        w = wrong_value(apply(op, v, b), kind, rng)
        if w is not None:
            text, r = step(v, op, b, w)
            return [(text, kind)], r, i + 1
    elif kind == "miscopied_value":
        a = wrong_value(v, kind, rng)
        if a is not None:
            text, r = step(a, op, b)
            return [(text, kind)], r, i + 1
    elif kind == "miscopied_operand":
        text, r = step(v, op, wrong_operand(op, b, rng))
        return [(text, kind)], r, i + 1
    elif kind == "wrong_operator":
        text, r = step(v, rng.choice([o for o in OPS if o != op]), b)
        return [(text, kind)], r, i + 1
    elif kind == "skipped_operation" and p.ops[i + 1:i + 2] != [(op, b)]:
        if i + 1 == len(p.ops):
            return [], v, i + 1  # the last operation left out: the answer line comes too early
        nop, nb = p.ops[i + 1]
        text, r = step(v, nop, nb)
        return [(text, kind)], r, i + 2
    elif kind == "repeated_operation" and p.ops[i + 1:i + 2] != [(op, b)]:
        first, r = step(v, op, b)
        again, r2 = step(r, op, b)
        return [(first, None), (again, kind)], r2, i + 1
    text, r = step(v, op, b)
    return [(text, None)], r, i + 1


def answer_step(v: int, wrong: bool, rng: random.Random) -> str:
    if not wrong:
        return f"Answer: {v}"
    return f"Answer: {wrong_value(v, 'miscopy', rng)}"


SYSTEMATIC_BUGGY = {"borrow": ("-", sub_smaller_from_larger), "carry": ("+", add_no_carry), "mulcarry": ("*", mul_no_carry)}


def systematic_result(kind: str, op: str, a: int, b: int) -> Optional[int]:
    want, buggy = SYSTEMATIC_BUGGY[kind]
    if op != want or a < 0:
        return None
    w = buggy(a, b)
    return w if w != apply(op, a, b) else None


def plant(p: Problem, kind: str, position: int, rng: random.Random) -> Optional[List[str]]:
    """The right solution of p with one mistake of `kind` at step `position` (an operation index,
    or len(p.ops) for the answer line), then right from the written value; None if it cannot apply."""
    n = len(p.ops)
    if kind == "wrong_answer":
        return correct_solution(p)[:-1] + [answer_step(p.answer, True, rng)] if position == n else None
    if position >= n:
        return None
    right = correct_solution(p)
    v = p.values()[position - 1] if position else p.start
    op, b = p.ops[position]
    if kind in SYSTEMATIC_KINDS:
        w = systematic_result(kind, op, v, b)
        if w is None:
            return None
        written, v, nxt = [step(v, op, b, w)[0]], w, position + 1
    else:
        out, v, nxt = slip_steps(p, position, v, kind, rng)
        if not any(k for _, k in out):
            return None
        written = [s for s, _ in out]
    rest = Problem(v, p.ops[nxt:])
    tail = correct_solution(rest) if rest.ops else [f"Answer: {v}"]
    return right[:position] + written + tail


def planted_errors(p: Problem, rng: random.Random, kinds=PLANTED_KINDS) -> List[dict]:
    """Every kind that applies to p, each at one random position where it applies and where the
    checker finds it (a skipped or repeated operation next to an equal one is ambiguous; so is a
    mistake that a later step copies unchanged). `first_error` is the checker's wrong step."""
    out = []
    for kind in kinds:
        positions = list(range(len(p.ops) + 1))
        rng.shuffle(positions)
        for pos in positions:
            steps = plant(p, kind, pos, rng)
            wrong_step = pos + (kind == "repeated_operation")
            if steps is not None and check(p, steps).first_error == wrong_step:
                out.append({"kind": kind, "position": pos, "first_error": wrong_step, "steps": steps})
                break
    return out
