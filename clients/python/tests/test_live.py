"""The Python client and the RL examples against a running service.

Skipped unless PRM_URL names one that serves the tiny test bundles (test/fixtures/bundles) with
tiny-logprobs as the default model; `npm test` starts such a service and runs this file
(test/client/python.test.ts).
"""
import os
import unittest

from live_fixture import PROMPT, STEPS, URL, example_output

from implicit_prm_client import PrmClient, PrmError  # noqa: E402



@unittest.skipUnless(URL, "set PRM_URL to a running implicit-prm service to run these tests")
class Client(unittest.TestCase):
    def setUp(self):
        self.prm = PrmClient(URL + "/")  # a trailing slash is tolerated

    def test_score_steps_and_response_agree(self):
        res = self.prm.score([{"id": "s", "prompt": PROMPT, "steps": STEPS}, {"prompt": PROMPT, "response": "\n".join(STEPS)}])
        self.assertEqual(res["model"]["name"], "tiny-logprobs")
        a, b = res["results"]
        self.assertEqual((a["id"], b["id"]), ("s", "1"))
        self.assertAlmostEqual(a["score"], b["score"], places=9)
        self.assertEqual(a["score"], min(s["reward"] for s in a["steps"]))
        self.assertEqual(len(a["steps"]), 4)

    def test_options(self):
        base = self.prm.score_steps(PROMPT, STEPS, model="tiny-ref-free", aggregate="sum", token_rewards=True)
        doubled = self.prm.score_steps(PROMPT, STEPS, model="tiny-ref-free", aggregate="sum", beta=0.1)
        self.assertAlmostEqual(base["score"], base["outcome_reward"], places=9)
        self.assertEqual([len(t) for t in base["token_rewards"]], [s["tokens"] for s in base["steps"]])
        self.assertNotIn("token_rewards", doubled)
        self.assertAlmostEqual(doubled["outcome_reward"], 2 * base["outcome_reward"], places=6)

    def test_get_reward(self):
        res = self.prm.get_reward([PROMPT + "\n" + "\n".join(STEPS)], prompts=[PROMPT], labels=["ignored"])
        self.assertAlmostEqual(res["rewards"][0], self.prm.score_steps(PROMPT, STEPS)["score"], places=6)
        self.assertEqual(res["scores"], res["rewards"])
        self.assertEqual(len(res["step_rewards"][0]), 4)
        self.assertEqual(res["errors"], [None])
        self.assertEqual(res["extra_logs"]["scored"], [1])
        empty = {"outcome_reward": [], "num_steps": [], "scored": [], "truncated": []}
        self.assertEqual(self.prm.get_reward([]), {"rewards": [], "scores": [], "extra_logs": empty, "step_rewards": [], "errors": []})

    def test_models_and_readiness(self):
        listed = self.prm.models()
        self.assertEqual(listed["default_model"], "tiny-logprobs")
        self.assertEqual(sorted(m["name"] for m in listed["models"]), ["tiny-logits", "tiny-logprobs", "tiny-logprobs-fused", "tiny-ref-free"])
        self.assertTrue(self.prm.readiness()["ready"])
        self.assertTrue(self.prm.wait_until_ready(timeout=1)["ready"])

    def test_errors(self):
        with self.assertRaises(PrmError) as ctx:
            self.prm.score_steps(PROMPT, ["48+27=75", ""])
        self.assertEqual((ctx.exception.status, ctx.exception.code), (400, "EMPTY_STEP"))
        self.assertFalse(ctx.exception.retryable)
        with self.assertRaises(PrmError) as ctx:
            self.prm.score_steps(PROMPT, STEPS, model="nope")
        self.assertEqual((ctx.exception.status, ctx.exception.code), (404, "MODEL_NOT_FOUND"))
        with self.assertRaises(PrmError) as ctx:
            PrmClient("http://127.0.0.1:9", max_retries=0).models()
        self.assertEqual((ctx.exception.status, ctx.exception.code), (0, "NETWORK"))
        self.assertTrue(ctx.exception.retryable)


@unittest.skipUnless(URL, "set PRM_URL to a running implicit-prm service to run these tests")
class Examples(unittest.TestCase):
    def setUp(self):
        os.environ["PRM_URL"] = URL
        self.prm = PrmClient(URL)

    def test_openrlhf_remote_rm(self):
        import openrlhf_remote_rm as ex

        queries = [f"{ex.PROMPT}\n{r}" for r in ex.RESPONSES]
        rewards = ex.remote_rm_fn(URL + "/get_reward", queries, [ex.PROMPT] * 2, labels=["72", "72"])
        want = [self.prm.score([{"prompt": ex.PROMPT, "response": r}])["results"][0]["score"] for r in ex.RESPONSES]
        for got, w in zip(rewards, want):
            self.assertAlmostEqual(got, w, places=6)
        status, lines = example_output(ex)
        self.assertEqual(status, 0)
        self.assertEqual(len(lines), 2)


if __name__ == "__main__":
    unittest.main()
