"""Non-finite numbers are contained: NaN physics or actions restart only the affected envs, a NaN loss
skips the optimizer step, and NaN weights are never written to a checkpoint."""

import pytest
import torch
from helpers import collect_rollout

from fpo_locomotion.tasks.g1_flat.config import g1_flat_play_config
from fpo_locomotion.tasks.velocity.env import make_velocity_env
from fpo_locomotion.train import make_env, make_runner, resolve_configs


def all_finite(obs) -> bool:
    return all(torch.isfinite(v).all() for v in obs.values())


def test_nan_in_backend_state_restarts_only_that_env():
    env = make_velocity_env(g1_flat_play_config(), num_envs=4, seed=0)
    step = env.backend.step

    def step_then_corrupt_env_1(targets):
        step(targets)
        env.backend.joint_vel[1, 3] = float("nan")

    env.backend.step = step_then_corrupt_env_1
    obs, rewards, dones, extras = env.step(torch.zeros(4, env.num_actions))
    assert all_finite(obs) and torch.isfinite(rewards).all()
    assert dones.tolist() == [0, 1, 0, 0] and rewards[1] == 0.0
    assert extras["log"]["Metrics/nonfinite_envs"] == 1 and extras["time_outs"][1] == 0
    assert env.episode_length_buf.tolist() == [1, 0, 1, 1]


def test_nan_actions_restart_only_that_env():
    env = make_velocity_env(g1_flat_play_config(), num_envs=3, seed=0)
    actions = torch.zeros(3, env.num_actions)
    actions[2, 0] = float("inf")
    obs, rewards, dones, extras = env.step(actions)
    assert all_finite(obs) and dones.tolist() == [0, 0, 1] and extras["log"]["Metrics/nonfinite_envs"] == 1


def small_fpo_runner():
    spec, env_cfg, train_cfg = resolve_configs("point-mass-joystick", None, ("train.runner.num_steps_per_env=4",))
    env = make_env(spec, env_cfg, 8, "cpu", 0)
    return make_runner(spec, env, env_cfg, train_cfg, "fpo", None, "cpu"), env


def test_nonfinite_loss_skips_the_optimizer_step():
    runner, env = small_fpo_runner()
    alg = runner.alg
    collect_rollout(alg, env, 4)
    alg.storage.returns[0, 0] = float("nan")  # poisons the value loss of every minibatch containing it
    before = {k: v.clone() for k, v in alg.critic.state_dict().items()}
    with pytest.warns(UserWarning, match="non-finite loss"):
        stats = alg.update()
    assert stats["skipped_steps"] >= 1
    assert all(torch.isfinite(v).all() for v in alg.critic.state_dict().values())
    assert any(not torch.equal(before[k], v) for k, v in alg.critic.state_dict().items())  # the other steps ran


def test_nan_weights_are_never_checkpointed(tmp_path):
    runner, _ = small_fpo_runner()
    runner.save(str(tmp_path / "model_0.pt"))
    with torch.no_grad():
        runner.alg.actor.net.obs_layer.weight[0, 0] = float("nan")
    with pytest.warns(UserWarning, match="not written"):
        runner.save(str(tmp_path / "model_1.pt"))
    assert (tmp_path / "model_0.pt").exists() and not (tmp_path / "model_1.pt").exists()
