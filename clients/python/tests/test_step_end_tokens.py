"""step_end_tokens: which policy token ends each step. Pure functions, no service needed."""
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from implicit_prm_client import split_steps, step_end_tokens  # noqa: E402

# tokens: "12" "+3" "=1" "5\n" "Ans" "wer: 15" "<eos>"
PIECES = ["12", "+3", "=1", "5\n", "Ans", "wer: 15", ""]


def decode(ids):
    return "".join(PIECES[i] for i in ids)


class StepEndTokens(unittest.TestCase):
    def test_steps_end_inside_and_at_token_ends(self):
        text = decode(range(len(PIECES)))
        ends = [end for _, _, end in split_steps(text)]
        # step 1 ends at "5" inside "5\n"; step 2 at the last text token, not at the empty <eos>
        self.assertEqual(step_end_tokens(decode, list(range(len(PIECES))), ends), [3, 5])

    def test_every_decode_counts(self):
        calls = []

        def counting(ids):
            calls.append(len(ids))
            return "x" * len(ids)

        self.assertEqual(step_end_tokens(counting, list(range(1024)), [100, 1000]), [99, 999])
        self.assertLessEqual(len(calls), 2 * 11)  # bisection: about log2(n) decodes per step

    def test_ends_past_the_text_go_to_the_last_token(self):
        self.assertEqual(step_end_tokens(decode, [0, 1], [50]), [1])


if __name__ == "__main__":
    unittest.main()
