import random

from implicit_prm.data import (DomainConfig, Problem, StudentConfig, add_no_carry, check, correct_solution,
                               mul_no_carry, random_problem, student_solution, sub_smaller_from_larger)


def test_correct_solution_passes():
    rng = random.Random(0)
    for _ in range(200):
        p = random_problem(rng)
        c = check(p, correct_solution(p))
        assert c.correct and c.first_error == -1 and c.answer == p.answer
        assert 2 <= len(p.ops) <= 8
        assert Problem.parse(p.text) == p


def test_planted_errors_found_at_the_right_step():
    p = Problem.parse("48+27-19*3+5")
    good = ["48+27=75", "75-19=56", "56*3=168", "168+5=173", "Answer: 173"]
    assert check(p, good).correct and check(p, good).first_error == -1
    # carry error at step 0, then consistent continuation
    bad0 = ["48+27=65", "65-19=46", "46*3=138", "138+5=143", "Answer: 143"]
    c = check(p, bad0)
    assert not c.correct and c.first_error == 0
    # borrow error at step 1
    bad1 = ["48+27=75", "75-19=64", "64*3=192", "192+5=197", "Answer: 197"]
    assert check(p, bad1).first_error == 1
    # arithmetic slip at step 3
    bad3 = ["48+27=75", "75-19=56", "56*3=168", "168+5=174", "Answer: 174"]
    assert check(p, bad3).first_error == 3
    # wrong final answer line only
    badA = good[:-1] + ["Answer: 172"]
    c = check(p, badA)
    assert not c.correct and c.first_error == 4
    # wrong operand copied from the problem
    assert check(p, ["48+27=75", "75-18=57", "57*3=171", "171+5=176", "Answer: 176"]).first_error == 1
    # missing step / malformed
    assert check(p, ["48+27=75", "75-19=56", "Answer: 56"]).first_error == 2
    assert check(p, ["48+27 = 75"] + good[1:]).first_error == 0
    # extra step after the answer
    assert check(p, good + ["Answer: 173"]).first_error == 5
    # right answer reached through a wrong step still has a first error
    lucky = ["48+27=76", "76-19=56", "56*3=168", "168+5=173", "Answer: 173"]
    c = check(p, lucky)
    assert c.correct and c.first_error == 0


def test_student_bugs_are_the_documented_ones():
    assert sub_smaller_from_larger(75, 19) == 64
    assert add_no_carry(48, 27) == 65
    assert mul_no_carry(56, 3) == 158
    rng = random.Random(1)
    for _ in range(300):
        p = random_problem(rng)
        steps, bugs = student_solution(p, StudentConfig(0.5, 0.5, 0.5), rng)
        c = check(p, steps)
        first_bug = next((i for i, b in enumerate(bugs) if b), -1)
        assert c.first_error == first_bug
