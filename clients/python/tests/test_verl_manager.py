"""The verl reward manager against a running service, on a stand-in DataProto (verl_stand_in.py)
with a real fast tokenizer as the policy's (policy_tokenizer.py). Needs torch and transformers
(the trainer environment). Skipped unless PRM_URL names a service with the tiny test bundles.

verl's contracts (volcengine/verl at b178a3cd56f58b2d502255daba591e92833930a7):
verl/trainer/ppo/reward.py load_reward_manager (importlib source, constructor keywords),
verl/utils/import_utils.py load_module (``pkg://`` and file paths), verl/trainer/ppo/ray_trainer.py
RayPPOTrainer.fit (``np.array`` per reward_extra_info key), verl/workers/reward_manager/abstract.py
(``rm_scores`` pass-through).
"""
import importlib
import importlib.util
import io
import os
import sys
import unittest
from contextlib import redirect_stderr
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from implicit_prm_client import PrmClient  # noqa: E402

URL = os.environ.get("PRM_URL", "")
PROMPT = "48+27-39*2"
RIGHT = ["48+27=75", "75-39=36", "36*2=72", "Answer: 72"]
WRONG = ["48+27=75", "75-39=44", "44*2=88", "Answer: 88"]
TOO_LONG = "\n".join(["1+1=2"] * 80)  # past the tiny bundles' 256 tokens


def load_like_verl(module_path, name):
    """verl/utils/import_utils.py load_module + load_extern_object, as load_reward_manager calls them."""
    if module_path.startswith("pkg://"):
        module = importlib.import_module(module_path[len("pkg://"):].replace("/", "."))
    else:
        spec = importlib.util.spec_from_file_location(f"custom_module_{hash(os.path.abspath(module_path))}", module_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return getattr(module, name)


def manager(tokenizer, **reward_kwargs):
    """Constructed with load_reward_manager's keywords (the AbstractRewardManager branch)."""
    cls = load_like_verl("pkg://implicit_prm_client.verl_manager", "ImplicitPrmRewardManager")
    return cls(tokenizer=tokenizer, num_examine=0, compute_score=lambda **_: 0.0, reward_fn_key="data_source",
               **{"prm_url": URL, **reward_kwargs})


@unittest.skipUnless(URL, "set PRM_URL to a running implicit-prm service to run these tests")
class VerlRewardManager(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import torch  # noqa: F401  (the manager imports it on its first call)
        from policy_tokenizer import policy_tokenizer
        from verl_stand_in import rollout_batch

        cls.tok = policy_tokenizer()
        cls.rollout_batch = staticmethod(rollout_batch)
        cls.prm = PrmClient(URL)

    def batch(self, responses, infos=None, response_length=48):
        infos = infos if infos is not None else [{"question": PROMPT}] * len(responses)
        return self.rollout_batch(self.tok, [PROMPT] * len(responses), responses, infos, response_length=response_length)

    def test_each_step_reward_sits_on_the_policy_token_that_ends_the_step(self):
        data = self.batch(["\n".join(RIGHT), "\n".join(WRONG)])
        out = manager(self.tok)(data, return_dict=True)
        rewards = out["reward_tensor"]
        self.assertEqual((rewards.shape, rewards.dtype), (data.batch["responses"].shape, __import__("torch").float32))
        for row, steps in enumerate([RIGHT, WRONG]):
            want = self.prm.score_steps(PROMPT, steps)
            ids = data.batch["responses"][row].tolist()
            positions = rewards[row].nonzero().flatten().tolist()
            self.assertEqual(len(positions), len(steps))
            ends = [len("\n".join(steps[: k + 1])) for k in range(len(steps))]
            for pos, end in zip(positions, ends):  # the first token whose decoded prefix reaches the step's end
                self.assertGreaterEqual(len(self.tok.decode(ids[: pos + 1], skip_special_tokens=True)), end)
                self.assertLess(len(self.tok.decode(ids[:pos], skip_special_tokens=True)), end)
            for pos, step in zip(positions, want["steps"]):
                self.assertAlmostEqual(rewards[row, pos].item(), step["reward"], places=6)
            self.assertAlmostEqual(rewards[row].sum().item(), want["outcome_reward"], places=5)
            self.assertEqual(ids[positions[-1] + 1], self.tok.eos_token_id)  # the last step's reward is not on EOS
        self.assertGreater(rewards[0].min().item(), rewards[1].min().item())

    def test_unscorable_samples_get_the_fallback_on_their_last_token_and_nothing_raises(self):
        responses = ["\n".join(RIGHT), TOO_LONG, "", "\n".join(WRONG)]
        infos = [{"question": PROMPT}, {"question": "1+1"}, {"question": PROMPT}, {"question": PROMPT}]
        data = self.batch(responses, infos, response_length=400)
        with redirect_stderr(io.StringIO()):
            out = manager(self.tok, fallback_reward=-0.5, prm_batch_size=2)(data, return_dict=True)
        rewards, extra = out["reward_tensor"], out["reward_extra_info"]
        lengths = data.batch["attention_mask"][:, data.batch["prompts"].shape[-1]:].sum(-1).tolist()
        self.assertEqual(extra["prm_error"], ["", "SEQUENCE_TOO_LONG", "EMPTY_RESPONSE", ""])
        for row in (1, 2):  # the empty response is EOS alone
            self.assertEqual(rewards[row].nonzero().flatten().tolist(), [lengths[row] - 1])
            self.assertEqual(rewards[row, lengths[row] - 1].item(), -0.5)
        self.assertEqual(len(rewards[3].nonzero()), 4)
        stored = {k: np.array(v) for k, v in extra.items()}  # RayPPOTrainer.fit
        self.assertEqual({k: a.shape for k, a in stored.items()}, {k: (4,) for k in ["score", "outcome_reward", "num_steps", "prm_error"]})

    def test_service_down_degrades_every_sample(self):
        data = self.batch(["\n".join(RIGHT)] * 2)
        with redirect_stderr(io.StringIO()):
            out = manager(self.tok, prm_url="http://127.0.0.1:9", fallback_reward=0.25)(data, return_dict=True)
        self.assertEqual(out["reward_extra_info"]["prm_error"], ["NETWORK"] * 2)
        self.assertAlmostEqual(out["reward_tensor"].sum().item(), 0.5, places=6)

    def test_last_placement_and_tensor_only_calls(self):
        data = self.batch(["\n".join(RIGHT)])
        tensor = manager(self.tok, placement="last")(data)
        length = int(data.batch["attention_mask"][0, data.batch["prompts"].shape[-1]:].sum())
        self.assertEqual(tensor[0].nonzero().flatten().tolist(), [length - 1])
        self.assertAlmostEqual(tensor[0, length - 1].item(), self.prm.score_steps(PROMPT, RIGHT)["score"], places=6)
        with self.assertRaises(ValueError):
            manager(self.tok, placement="everywhere")

    def test_the_prompt_tokens_stand_in_for_a_missing_question(self):
        with_question = manager(self.tok)(self.batch(["\n".join(WRONG)]))
        without = manager(self.tok)(self.batch(["\n".join(WRONG)], [{"num_turns": None}]))
        self.assertTrue(bool((with_question == without).all()))

    def test_rollout_scores_pass_through(self):
        import torch

        data = self.batch(["\n".join(RIGHT)])
        data.batch["rm_scores"] = torch.full(data.batch["responses"].shape, 0.125)
        data.non_tensor_batch["acc"] = np.array([1.0])
        data.meta_info["reward_extra_keys"] = ["acc"]
        with redirect_stderr(io.StringIO()) as err:
            out = manager(self.tok)(data, return_dict=True)
        self.assertIs(out["reward_tensor"], data.batch["rm_scores"])
        self.assertEqual(list(out["reward_extra_info"]), ["acc"])
        self.assertIn("use_reward_loop=False", err.getvalue())

    def test_the_example_file_loads_as_verl_loads_a_file_path(self):
        cls = load_like_verl(str(HERE / "examples" / "verl_reward.py"), "ImplicitPrmRewardManager")
        fn = load_like_verl(str(HERE / "examples" / "verl_reward.py"), "compute_score")
        self.assertEqual(cls.__name__, "ImplicitPrmRewardManager")
        self.assertEqual(fn("arith", "", None, {"question": PROMPT}, prm_url=URL)["prm_error"], "EMPTY_RESPONSE")


if __name__ == "__main__":
    unittest.main()
