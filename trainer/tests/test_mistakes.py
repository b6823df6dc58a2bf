"""The student's mistakes and the planted errors, read by the checker (whose rule is the documented
text format): every mistake is found at the step that makes it, and the rates keep the student's
pass@1 inside the band the reference must reach."""
import random
from collections import Counter

from implicit_prm.data import DomainConfig, Problem, StudentConfig, check, correct_solution, random_problem, student_solution
from implicit_prm.mistakes import HELD_OUT_KINDS, PLANTED_KINDS, SLIP_KINDS, plant, planted_errors


def test_each_student_mistake_is_the_checkers_first_wrong_step():
    rng = random.Random(3)
    kinds = Counter()
    # every slip frequent, to see each kind many times
    cfg = StudentConfig(0.3, 0.3, 0.3, slips={k: 0.05 for k in SLIP_KINDS}, p_wrong_answer=0.2)
    for _ in range(2000):
        p = random_problem(rng)
        steps, bugs = student_solution(p, cfg, rng)
        first = next((i for i, b in enumerate(bugs) if b), -1)
        assert check(p, steps).first_error == first, (p.text, steps, bugs)
        kinds.update(b for b in bugs if b)
    assert set(SLIP_KINDS) | {"borrow", "carry", "mulcarry", "wrong_answer"} <= set(kinds)
    assert not set(HELD_OUT_KINDS) & set(kinds), "held-out kinds are never made by the student"


def test_default_student_pass_rate_is_inside_the_band():
    rng, right = random.Random(5), []
    for _ in range(3000):
        p = random_problem(rng)
        steps, _ = student_solution(p, DomainConfig().student, rng)
        right.append(steps == correct_solution(p))
    assert 0.3 <= sum(right) / len(right) <= 0.8


def test_planted_errors_cover_every_kind_and_are_found_where_planted():
    rng, seen = random.Random(7), Counter()
    for _ in range(500):
        p = random_problem(rng)
        for e in planted_errors(p, rng):
            assert check(p, e["steps"]).first_error == e["first_error"]
            assert e["steps"] != correct_solution(p)
            seen[e["kind"]] += 1
    assert set(seen) == set(PLANTED_KINDS)


def test_planted_examples():
    p = Problem.parse("48+27-19")
    rng = random.Random(0)
    assert plant(p, "borrow", 1, rng) == ["48+27=75", "75-19=64", "Answer: 64"]
    assert plant(p, "carry", 0, rng) == ["48+27=65", "65-19=46", "Answer: 46"]
    assert plant(p, "skipped_operation", 0, rng) == ["48-19=29", "Answer: 29"]
    assert plant(p, "repeated_operation", 0, rng) == ["48+27=75", "75+27=102", "102-19=83", "Answer: 83"]
    assert plant(p, "digit_swap", 0, rng) == ["48+27=57", "57-19=38", "Answer: 38"]
    assert plant(p, "borrow", 0, rng) is None  # no subtraction at step 1
    wrong = plant(p, "wrong_answer", 2, rng)
    assert wrong[:2] == ["48+27=75", "75-19=56"] and wrong[2] != "Answer: 56"
