"""The verl reward functions against a running service: scalars only, and every sample rewarded.

verl's contracts, reproduced (volcengine/verl at b178a3cd56f58b2d502255daba591e92833930a7):
- verl/trainer/ppo/ray_trainer.py, RayPPOTrainer.fit: the per-key lists a reward manager
  collects become ``np.array(v)`` for each key (``batch.non_tensor_batch.update(...)``);
- verl/experimental/reward_loop/reward_loop.py, RewardLoopManager.compute_rm_score: the keys of
  the first sample's dict, then ``np.array([info[key] for info in reward_extra_infos])``;
- verl/workers/reward_manager/naive.py and batch.py: the keyword arguments of the calls.
Skipped unless PRM_URL names a service with the tiny test bundles (see test_live.py).
"""
import io
import os
import unittest
from collections import defaultdict
from contextlib import redirect_stderr

import numpy as np

from live_fixture import PROMPT, STEPS, URL, example_output

from implicit_prm_client import PrmClient  # noqa: E402
from implicit_prm_client.verl_reward import compute_score, compute_score_batch  # noqa: E402

TOO_LONG = "\n".join(["1+1=2"] * 80)  # past the tiny bundles' 256 tokens
KEYS = ["score", "outcome_reward", "num_steps", "prm_error"]


def as_ray_trainer_stores(per_sample):
    """NaiveRewardManager's per-key lists, then RayPPOTrainer.fit's np.array per key."""
    lists = defaultdict(list)
    for reward in per_sample:
        for key, value in reward.items():
            lists[key].append(value)
    return {k: np.array(v) for k, v in lists.items()}


def as_reward_loop_stores(per_sample):
    """RewardLoopManager.compute_rm_score: the first sample's keys over every sample."""
    return {key: np.array([info[key] for info in per_sample]) for key in per_sample[0]}


@unittest.skipUnless(URL, "set PRM_URL to a running implicit-prm service to run these tests")
class VerlRewardFunction(unittest.TestCase):
    def setUp(self):
        self.prm = PrmClient(URL)
        self.kw = {"prm_url": URL}

    def direct(self, prompt, steps):
        return self.prm.score_steps(prompt, steps)

    def test_a_batch_with_unscorable_samples_gives_one_scalar_per_key_and_sample(self):
        responses = ["\n".join(STEPS), TOO_LONG, "", "48+27=75\n\n75-39=44\n", "1+1=2"]
        infos = [{"question": PROMPT}, {"question": "1+1"}, {"question": PROMPT}, {"prompt": PROMPT}, {}]
        with redirect_stderr(io.StringIO()):
            out = compute_score_batch(["arith"] * 5, responses, ["88"] * 5, infos, **self.kw)
        self.assertEqual([sorted(r) for r in out], [sorted(KEYS)] * 5)
        for stored in (as_ray_trainer_stores(out), as_reward_loop_stores(out)):
            for key, array in stored.items():
                self.assertEqual(array.shape, (5,), key)
                self.assertNotEqual(array.dtype, object, key)
        self.assertAlmostEqual(out[0]["score"], self.direct(PROMPT, STEPS)["score"], places=9)
        self.assertEqual((out[0]["num_steps"], out[0]["prm_error"]), (4, ""))
        self.assertAlmostEqual(out[3]["score"], self.direct(PROMPT, STEPS[:2])["score"], places=9)  # blank steps dropped
        self.assertEqual([r["prm_error"] for r in out], ["", "SEQUENCE_TOO_LONG", "EMPTY_RESPONSE", "", "NO_PROMPT"])
        for r in (out[1], out[2], out[4]):
            self.assertEqual((r["score"], r["outcome_reward"], r["num_steps"]), (0.0, 0.0, 0))

    def test_bad_samples_are_isolated_across_requests(self):
        responses = ["\n".join(STEPS[: k + 1]) for k in range(4)] * 2
        responses[5] = TOO_LONG
        with redirect_stderr(io.StringIO()):
            out = compute_score_batch(["arith"] * 8, responses, [None] * 8, [{"question": PROMPT}] * 8,
                                      prm_batch_size=3, fallback_reward=-1.5, **self.kw)
        for i, (response, reward) in enumerate(zip(responses, out)):
            if i == 5:
                self.assertEqual((reward["score"], reward["prm_error"]), (-1.5, "SEQUENCE_TOO_LONG"))
            else:
                self.assertAlmostEqual(reward["score"], self.direct(PROMPT, response.split("\n"))["score"], places=9)

    def test_per_sample_signature_matches_the_batch(self):
        one = compute_score(data_source="arith", solution_str="\n".join(STEPS), ground_truth="88",
                            extra_info={"question": PROMPT, "num_turns": None}, **self.kw)
        self.assertEqual(one, compute_score_batch(["arith"], ["\n".join(STEPS)], ["88"], [{"question": PROMPT}], **self.kw)[0])

    def test_service_unreachable_or_model_unknown_degrades_to_the_fallback(self):
        with redirect_stderr(io.StringIO()):
            down = compute_score("arith", "1+1=2", "2", {"question": "1+1"}, prm_url="http://127.0.0.1:9", fallback_reward=-1)
            unknown = compute_score_batch(["a"] * 2, ["1+1=2"] * 2, [None] * 2, [{"question": "1+1"}] * 2,
                                          prm_model="nope", **self.kw)
        self.assertEqual(down, {"score": -1.0, "outcome_reward": -1.0, "num_steps": 0, "prm_error": "NETWORK"})
        self.assertEqual([r["prm_error"] for r in unknown], ["MODEL_NOT_FOUND"] * 2)

    def test_settings_come_from_the_environment_when_no_keyword_names_them(self):
        saved = {k: os.environ.get(k) for k in ("PRM_URL", "PRM_FALLBACK_REWARD", "PRM_AGGREGATE")}
        os.environ.update({"PRM_URL": URL, "PRM_FALLBACK_REWARD": "-2", "PRM_AGGREGATE": "last"})
        try:
            got = compute_score_batch(["a"] * 2, ["\n".join(STEPS), ""], [None] * 2, [{"question": PROMPT}] * 2)
        finally:
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        last = self.prm.score_steps(PROMPT, STEPS, aggregate="last")["score"]
        self.assertAlmostEqual(got[0]["score"], last, places=9)
        self.assertEqual(got[1]["score"], -2.0)
        with self.assertRaises(ValueError):  # a misconfigured aggregate is a config error, not a sample's
            compute_score("a", "1+1=2", None, {"question": "1+1"}, prm_aggregate="median", **self.kw)

    def test_example_runs(self):
        import verl_reward as ex

        status, lines = example_output(ex)
        self.assertEqual(status, 0)
        self.assertEqual(len(lines), 2)


if __name__ == "__main__":
    unittest.main()
