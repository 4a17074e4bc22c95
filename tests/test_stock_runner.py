"""FPO in someone else's rsl_rl project: rsl_rl's stock ``OnPolicyRunner``, a VecEnv of the user's own, and a
train-config dict that switches PPO to FPO by ``class_name`` strings plus FPO's keys (README "FPO in your own
rsl_rl project"). Nothing of this package's runner, tasks or CLI is used.
"""

import numpy as np
import onnxruntime as ort
import pytest
import torch
from rsl_rl.env import VecEnv
from rsl_rl.runners import OnPolicyRunner
from tensordict import TensorDict


class ReachEnv(VecEnv):
    """2-D point that should move its action towards a random target: obs [N, 2] (target), reward -|a - target|^2."""

    def __init__(self, num_envs: int = 32) -> None:
        self.num_envs, self.num_actions, self.max_episode_length = num_envs, 2, 8
        self.device = torch.device("cpu")
        self.cfg = {}
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long)
        self.target = torch.rand(num_envs, 2) * 2 - 1

    def get_observations(self) -> TensorDict:
        return TensorDict({"policy": self.target.clone()}, batch_size=[self.num_envs])

    def step(self, actions: torch.Tensor):
        reward = -(actions - self.target).pow(2).sum(-1)
        self.episode_length_buf += 1
        done = self.episode_length_buf >= self.max_episode_length
        self.episode_length_buf[done] = 0
        self.target[done] = torch.rand(int(done.sum()), 2) * 2 - 1
        return self.get_observations(), reward, done.long(), {"time_outs": done.float()}


def ppo_train_cfg() -> dict:
    """The dict a user of Isaac Lab or mjlab already has for rsl_rl's PPO (abridged)."""
    return {
        "num_steps_per_env": 8, "save_interval": 50, "obs_groups": {"actor": ["policy"], "critic": ["policy"]},
        "algorithm": {"class_name": "PPO", "learning_rate": 1e-3, "num_learning_epochs": 2, "num_mini_batches": 2,
                      "clip_param": 0.2, "gamma": 0.99, "lam": 0.95, "value_loss_coef": 1.0, "entropy_coef": 0.01,
                      "max_grad_norm": 1.0, "schedule": "adaptive", "desired_kl": 0.01},
        "actor": {"class_name": "MLPModel", "hidden_dims": [32, 32], "activation": "elu", "obs_normalization": True,
                  "distribution_cfg": {"class_name": "GaussianDistribution", "init_std": 1.0}},
        "critic": {"class_name": "MLPModel", "hidden_dims": [32, 32], "activation": "elu", "obs_normalization": True},
    }


def fpo_train_cfg() -> dict:
    """The same dict switched to FPO: two class names, FPO's keys, and PPO-only keys (entropy, KL schedule) dropped."""
    cfg = ppo_train_cfg()
    for key in ("entropy_coef", "schedule", "desired_kl"):
        del cfg["algorithm"][key]
    cfg["algorithm"].update({"class_name": "fpo_locomotion.algorithms.fpo:FPO", "clip_param": 0.05,
                             "ratio": "per_sample", "objective": "aspo", "learning_rate": 3e-4})
    cfg["actor"] = {"class_name": "fpo_locomotion.models.flow_actor:FlowActor", "hidden_dims": [32, 32],
                    "activation": "elu", "obs_normalization": True, "flow_steps": 4, "num_mc": 4}
    return cfg


@pytest.mark.parametrize("make_cfg", [ppo_train_cfg, fpo_train_cfg])
def test_stock_runner_trains_saves_reloads_and_exports(make_cfg, tmp_path):
    """The same user code for both dicts: 2 iterations, save, load into a fresh runner, ONNX export."""
    torch.manual_seed(0)
    runner = OnPolicyRunner(ReachEnv(), make_cfg(), log_dir=str(tmp_path), device="cpu")
    runner.learn(2)
    checkpoint = tmp_path / "model_1.pt"
    assert checkpoint.is_file()

    reloaded = OnPolicyRunner(ReachEnv(), make_cfg(), log_dir=None, device="cpu")
    reloaded.load(str(checkpoint))
    obs = ReachEnv().get_observations()
    with torch.inference_mode():
        expected = runner.get_inference_policy()(obs)
        actual = reloaded.get_inference_policy()(obs)
    torch.testing.assert_close(actual, expected)
    assert torch.load(checkpoint, weights_only=True)["iter"] == 1  # the stock save is weights_only-loadable too

    reloaded.export_policy_to_onnx(str(tmp_path / "exported"))
    session = ort.InferenceSession(str(tmp_path / "exported" / "policy.onnx"), providers=["CPUExecutionProvider"])
    for row in range(3):  # rsl_rl's stock export has a batch of one
        (onnx_actions,) = session.run(None, {"obs": obs["policy"][row:row + 1].numpy()})
        np.testing.assert_allclose(onnx_actions, expected[row:row + 1].numpy(), atol=1e-5)
