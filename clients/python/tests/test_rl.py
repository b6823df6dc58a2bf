"""The RL helpers: pure functions, no service needed."""
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from implicit_prm_client import place_step_rewards, split_steps  # noqa: E402


class SplitSteps(unittest.TestCase):
    def test_spans_point_into_the_response(self):
        response = "48+27=75\n\n75-19=56\n  \nAnswer: 56\n"
        steps = split_steps(response)
        self.assertEqual([t for t, _, _ in steps], ["48+27=75", "75-19=56", "Answer: 56"])
        for text, start, end in steps:
            self.assertEqual(response[start:end], text)

    def test_other_separators(self):
        self.assertEqual(split_steps("a\n\nb\n\n\n\nc", "\n\n"), [("a", 0, 1), ("b", 3, 4), ("c", 8, 9)])

    def test_empty_response_has_no_steps(self):
        self.assertEqual(split_steps(""), [])
        self.assertEqual(split_steps("\n\n"), [])


class PlaceStepRewards(unittest.TestCase):
    def test_character_tokens(self):
        response = "ab\ncd"
        spans = [(s, e) for _, s, e in split_steps(response)]
        offsets = [(i, i + 1) for i in range(len(response))]
        self.assertEqual(place_step_rewards([0.5, -1.0], spans, offsets), [0.0, 0.5, 0.0, 0.0, -1.0])

    def test_multi_character_tokens_and_separator_tokens(self):
        # tokens: "12" "+3" "=15" "\n" "Answer" ":" " 15"
        response = "12+3=15\nAnswer: 15"
        offsets = [(0, 2), (2, 4), (4, 7), (7, 8), (8, 14), (14, 15), (15, 18)]
        spans = [(s, e) for _, s, e in split_steps(response)]
        self.assertEqual(place_step_rewards([0.25, 0.75], spans, offsets), [0, 0, 0.25, 0, 0, 0, 0.75])

    def test_a_step_end_between_tokens_goes_to_the_last_token_before_it(self):
        # offsets with a gap (a tokenizer that drops a character)
        self.assertEqual(place_step_rewards([1.0], [(0, 4)], [(0, 2), (4, 6)]), [1.0, 0.0])

    def test_counts_must_match(self):
        with self.assertRaises(ValueError):
            place_step_rewards([1.0, 2.0], [(0, 1)], [(0, 1)])


if __name__ == "__main__":
    unittest.main()
