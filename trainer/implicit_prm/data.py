"""Synthetic, checkable multi-step arithmetic.

A problem is a chain of 2–6 integer operations applied left to right, e.g. ``12+27-19*3``
(= ((12+27)-19)*3 = 60). A solution has one line per operation, ``<a><op><b>=<c>``, then
``Answer: <n>``. Every true intermediate value stays in 0..99 (two digits at most, so that a
sub-million-parameter character-level model learns the arithmetic in minutes on two CPU cores);
only a solution that already went wrong can reach a negative value (written ``-12``) or a larger one.

The SFT demonstrations are written by a simulated *student* with systematic, step-local
misconceptions (the classic "buggy arithmetic" of the cognitive-tutor literature):

* ``borrow``: subtraction that needs a borrow is done "smaller digit from larger digit" in every
  column (75-19 -> 64 instead of 56) — frequent;
* ``carry``: addition that carries forgets the carry (48+27 -> 65);
* ``mulcarry``: multiplication forgets the carries (56*3 -> 158).

After a mistake the student goes on correctly from the wrong value, so the final answer is wrong.
The reference model trained on these demonstrations inherits the misconceptions; an implicit PRM
trained from outcome labels only can learn that these steps are the ones that fail. The checker
(evaluation only) knows the true values and returns the first wrong step.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

OPS = "+-*"
MAX_VALUE = 99


@dataclass
class Problem:
    start: int
    ops: List[Tuple[str, int]]

    @property
    def text(self) -> str:
        return str(self.start) + "".join(f"{op}{b}" for op, b in self.ops)

    def values(self) -> List[int]:
        v, out = self.start, []
        for op, b in self.ops:
            v = apply(op, v, b)
            out.append(v)
        return out

    @property
    def answer(self) -> int:
        return self.values()[-1]

    @classmethod
    def parse(cls, text: str) -> "Problem":
        m = re.fullmatch(r"(\d+)((?:[-+*]\d+)+)", text.strip())
        if not m:
            raise ValueError(f"not a problem: {text!r}")
        ops = [(o, int(b)) for o, b in re.findall(r"([-+*])(\d+)", m.group(2))]
        return cls(int(m.group(1)), ops)


def apply(op: str, a: int, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


# ---- the student's buggy procedures ----------------------------------------------------
def digits(n: int) -> List[int]:
    return [int(c) for c in str(n)][::-1]  # least significant first


def needs_carry(a: int, b: int) -> bool:
    da, db = digits(a), digits(b)
    c = 0
    for i in range(max(len(da), len(db))):
        s = (da[i] if i < len(da) else 0) + (db[i] if i < len(db) else 0) + c
        c = s // 10
        if c:
            return True
    return False


def add_no_carry(a: int, b: int) -> int:
    da, db = digits(a), digits(b)
    out = []
    for i in range(max(len(da), len(db))):
        s = (da[i] if i < len(da) else 0) + (db[i] if i < len(db) else 0)
        out.append(s % 10 if i < max(len(da), len(db)) - 1 else s)  # top column keeps its overflow
    return int("".join(str(d) for d in reversed(out)))


def needs_borrow(a: int, b: int) -> bool:
    da, db = digits(a), digits(b)
    return any(da[i] < (db[i] if i < len(db) else 0) for i in range(len(da)))


def sub_smaller_from_larger(a: int, b: int) -> int:
    da, db = digits(a), digits(b)
    out = [abs(da[i] - (db[i] if i < len(db) else 0)) for i in range(len(da))]
    return int("".join(str(d) for d in reversed(out)))


def needs_mul_carry(a: int, m: int) -> bool:
    return any(d * m >= 10 for d in digits(a)[:-1]) or False


def mul_no_carry(a: int, m: int) -> int:
    da = digits(a)
    out = [(d * m) % 10 for d in da[:-1]] + [da[-1] * m]
    return int("".join(str(d) for d in reversed(out)))


@dataclass
class StudentConfig:
    """Probabilities of the student's mistakes. The systematic bugs apply when their condition
    holds (a borrow, a carry); the slips are per operation and exclusive; the wrong answer line is
    per solution. Rates keep the reference's pass@1 between 30% and 80% on 2–8 operations."""
    p_borrow: float = 0.30
    p_carry: float = 0.08
    p_mulcarry: float = 0.08
    slips: Dict[str, float] = field(default_factory=lambda: dict(SLIP_RATES))
    p_wrong_answer: float = 0.02


# Per-operation rates of the student's random slips (mistakes.py has what each one writes).
SLIP_RATES = {
    "off_by_one": 0.012, "off_by_ten": 0.008, "digit_swap": 0.006, "miscopied_value": 0.006,
    "miscopied_operand": 0.006, "skipped_operation": 0.004, "repeated_operation": 0.004,
}
SYSTEMATIC = {"-": ("borrow", "p_borrow", sub_smaller_from_larger), "+": ("carry", "p_carry", add_no_carry),
              "*": ("mulcarry", "p_mulcarry", mul_no_carry)}


def systematic_bug(op: str, a: int, b: int, cfg: StudentConfig, rng: random.Random) -> Optional[Tuple[int, str]]:
    """The student's buggy result for this operation, when its bug applies and strikes."""
    if a < 0:  # only after an earlier mistake: plain arithmetic
        return None
    name, rate, buggy = SYSTEMATIC[op]
    w = buggy(a, b)
    if w != apply(op, a, b) and 0 <= w <= MAX_VALUE and rng.random() < getattr(cfg, rate):
        return w, name
    return None


def draw_slip(cfg: StudentConfig, rng: random.Random) -> Optional[str]:
    u = rng.random()
    for kind, p in cfg.slips.items():
        if u < p:
            return kind
        u -= p
    return None


def student_solution(p: Problem, cfg: StudentConfig, rng: random.Random) -> Tuple[List[str], List[Optional[str]]]:
    """Steps and, per step, the mistake it makes (None where it is right given what precedes it)."""
    from .mistakes import answer_step, slip_steps

    v, i, steps, bugs, answer_bug = p.start, 0, [], [], None
    while i < len(p.ops):
        op, b = p.ops[i]
        bug = systematic_bug(op, v, b, cfg, rng)
        if bug is not None:
            steps.append(f"{v}{op}{b}={bug[0]}")
            bugs.append(bug[1])
            v, i = bug[0], i + 1
            continue
        kind = draw_slip(cfg, rng)
        written, v, i = slip_steps(p, i, v, kind, rng)
        steps += [s for s, _ in written]
        bugs += [k for _, k in written]
        if not written:  # the last operation skipped: the answer line is the wrong step
            answer_bug = kind
    wrong = rng.random() < cfg.p_wrong_answer
    steps.append(answer_step(v, wrong, rng))
    bugs.append(answer_bug or ("wrong_answer" if wrong else None))
    return steps, bugs


def correct_solution(p: Problem) -> List[str]:
    steps, v = [], p.start
    for op, b in p.ops:
        w = apply(op, v, b)
        steps.append(f"{v}{op}{b}={w}")
        v = w
    return steps + [f"Answer: {v}"]


# ---- problem generator ------------------------------------------------------------------
@dataclass
class DomainConfig:
    min_ops: int = 2
    max_ops: int = 8
    add_range: Tuple[int, int] = (10, 99)
    sub_range: Tuple[int, int] = (10, 99)
    mul_range: Tuple[int, int] = (2, 9)
    start_range: Tuple[int, int] = (10, 99)
    student: StudentConfig = field(default_factory=StudentConfig)


def random_problem(rng: random.Random, cfg: DomainConfig = DomainConfig()) -> Problem:
    n = rng.randint(cfg.min_ops, cfg.max_ops)
    v = rng.randint(*cfg.start_range)
    start, ops = v, []
    while len(ops) < n:
        op = rng.choice(OPS)
        if op == "+":
            b = rng.randint(*cfg.add_range)
        elif op == "-":
            b = rng.randint(*cfg.sub_range)
        else:
            b = rng.randint(*cfg.mul_range)
        w = apply(op, v, b)
        if 0 <= w <= MAX_VALUE:
            ops.append((op, b))
            v = w
    return Problem(start, ops)


def problem_split(seed: int, n: int, cfg: DomainConfig = DomainConfig(), exclude=()) -> List[Problem]:
    """n distinct problems from a seeded stream, skipping any whose text is in `exclude`."""
    rng = random.Random(seed)
    seen = set(exclude)
    out = []
    while len(out) < n:
        p = random_problem(rng, cfg)
        if p.text in seen:
            continue
        seen.add(p.text)
        out.append(p)
    return out


# ---- checker (evaluation only) ------------------------------------------------------------
@dataclass
class Check:
    correct: bool                 # final answer right
    first_error: int              # index of the first wrong step, -1 if none
    answer: Optional[int]         # parsed final answer (None if missing/malformed)


STEP_RE = re.compile(r"(-?\d+)([-+*])(\d+)=(-?\d+)")
ANSWER_RE = re.compile(r"Answer: (-?\d+)")


def parse_answer(steps: Sequence[str]) -> Optional[int]:
    if not steps:
        return None
    m = ANSWER_RE.fullmatch(steps[-1])
    return int(m.group(1)) if m else None


def check(problem: Problem, steps: Sequence[str]) -> Check:
    """Final-answer correctness and the first wrong step.

    Step k (< number of operations) is right iff it reads exactly ``<v_k-1><op_k><b_k>=<v_k>`` with the
    true values; the answer step is right iff it is ``Answer: <true answer>`` and comes right after the
    last operation. A missing step counts as wrong at the position where it is missing; extra steps
    after the answer are wrong."""
    true_vals = problem.values()
    answer = parse_answer(steps)
    correct = answer is not None and answer == true_vals[-1]
    v = problem.start
    first = -1
    for k, (op, b) in enumerate(problem.ops):
        want = f"{v}{op}{b}={true_vals[k]}"
        if k >= len(steps) or steps[k] != want:
            first = min(k, len(steps) - 1) if len(steps) else 0
            break
        v = true_vals[k]
    if first == -1:
        n = len(problem.ops)
        if len(steps) <= n or steps[n] != f"Answer: {true_vals[-1]}":
            first = min(n, len(steps) - 1)
        elif len(steps) > n + 1:
            first = n + 1
    return Check(correct, first, answer)


def first_error_plain(problem: Problem, steps: Sequence[str]) -> int:
    return check(problem, steps).first_error
