"""Left-right symmetry augmentation: the G1's mirror against mirrored physics, and the learners that use it."""

import pytest
import torch
from helpers import collect_rollout

from fpo_locomotion.envs.symmetry import env_mirror, mirror_augmentation
from fpo_locomotion.errors import ConfigError
from fpo_locomotion.tasks.velocity.state import LEG_OFFSETS
from fpo_locomotion.train import make_env, make_runner, resolve_configs

NO_RESET_NOISE = ("env.reset.random_yaw=false", "env.reset.root_vel=0.0", "env.reset.joint_pos_scale=[1.0, 1.0]",
                  "env.commands.resampling_time_s=100.0")


def g1_env(num_envs: int, *overrides: str):
    spec, env_cfg, train_cfg = resolve_configs("G1-Flat", overrides=overrides)
    return spec, env_cfg, train_cfg, make_env(spec, env_cfg, num_envs, "cpu", 0)


@pytest.mark.parametrize("history_length", [1, 3])
def test_mirror_of_a_g1_rollout_is_the_rollout_of_mirrored_actions_and_command(history_length):
    *_, env = g1_env(2, *NO_RESET_NOISE, f"env.observations.history_length={history_length}")
    mirror = env_mirror(env)
    gait = {"policy": slice(45 * history_length, None), "critic": slice(45, 47)}  # gait_phase: the last policy term
    env.task.commands.command[:] = torch.tensor([[0.5, 0.3, 0.4], [0.5, -0.3, -0.4]])
    gen = torch.Generator().manual_seed(0)
    for _ in range(8):
        action = 0.2 * torch.randn(12, generator=gen)
        obs, *_ = env.step(torch.stack([action, mirror["actions"].apply(action)]))
        for group in ("policy", "critic"):
            error = (mirror[group].apply(obs[group][0]) - obs[group][1]).abs()
            error[gait[group]] = 0.0  # gait phase: env 1's clock is not half a period on (checked below)
            assert error.max() < 1e-2, (group, int(error.argmax()))
    phase = obs["policy"][0, gait["policy"]]
    assert obs["policy"].shape == (2, 47 * history_length) and phase.abs().sum() > 0.5  # non-trivial values mirrored
    # the mirrored left leg is the right one, half a gait period on: (sin, cos) -> (-sin, -cos), in every frame
    assert LEG_OFFSETS[1] - LEG_OFFSETS[0] == 0.5
    assert torch.equal(mirror["policy"].apply(obs["policy"][0])[gait["policy"]], -phase)


def test_mirror_is_an_involution_and_augmentation_puts_mirrors_after_originals():
    *_, env = g1_env(4)
    obs = env.get_observations()
    actions = torch.randn(4, 12)
    mirror = env_mirror(env)
    for group, x in (("policy", obs["policy"]), ("critic", obs["critic"]), ("actions", actions)):
        assert torch.allclose(mirror[group].apply(mirror[group].apply(x)), x)
    augmented, augmented_actions = mirror_augmentation(env, obs, actions)
    assert augmented.batch_size[0] == 8 and torch.equal(augmented["policy"][:4], obs["policy"])
    assert torch.equal(augmented_actions[4:, :6], actions[:, 6:] * torch.tensor([1.0, -1, -1, 1, 1, -1]))


def test_fpo_update_learns_on_mirrored_cfm_pairs_with_their_own_old_losses():
    torch.manual_seed(0)
    spec, env_cfg, train_cfg, env = g1_env(8, "train.fpo.symmetry=true", "train.runner.num_steps_per_env=4")
    alg = make_runner(spec, env, env_cfg, train_cfg, "fpo", None, "cpu").alg
    with torch.no_grad():  # an untrained flow (zero output layer) is mirror-symmetric: make it not
        for p in alg.actor.net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    collect_rollout(alg, env, 4)
    alg._store_mirrored_old_losses()
    batch = next(alg.storage.mini_batch_generator(1, 1))
    eps, tau, loss_old, stored_mirrored_loss = batch.old_distribution_params
    mirror = env_mirror(env)
    mirrored_eps, mirrored_tau, mirrored_loss = alg._augment(batch, eps, tau, loss_old, stored_mirrored_loss)
    assert mirrored_eps.shape == (64, *eps.shape[1:]) and batch.observations.batch_size[0] == 64
    assert torch.equal(mirrored_eps[:32], eps) and torch.equal(mirrored_eps[32:], mirror["actions"].apply(eps))
    assert torch.equal(mirrored_tau[32:], tau) and torch.equal(mirrored_loss[:32], loss_old)
    # the mirrored pairs' old losses are the acting policy's own on the mirrored (obs, action, eps), not copies
    with torch.no_grad():
        latent = alg.actor.get_latent(batch.observations[32:])
        expected = alg.actor.cfm_loss(latent, batch.actions[32:], mirrored_eps[32:], tau)
    assert torch.allclose(mirrored_loss[32:], expected, atol=1e-5) and not torch.allclose(mirrored_loss[32:], loss_old)
    before = [p.clone() for p in alg.actor.parameters()]
    stats = alg.update()
    assert stats["skipped_steps"] == 0 and any(not torch.equal(a, b) for a, b in zip(before, alg.actor.parameters()))


def test_ppo_gets_rsl_rl_symmetry():
    spec, env_cfg, train_cfg, env = g1_env(4, "train.ppo.symmetry=true")
    alg = make_runner(spec, env, env_cfg, train_cfg, "ppo", None, "cpu").alg
    assert alg.symmetry.use_data_augmentation and alg.symmetry.env is env


@pytest.mark.parametrize("task, overrides, message", [
    ("point-mass-joystick", (), "PointMassJoystickEnv has no left-right mirror"),
    ("G1-Flat", ("env.observations.policy.my_term={func: 'fpo_locomotion.tasks.velocity.observations:base_height'}",),
     "'env.observations.policy.my_term' .* has no left-right mirror"),
])
def test_symmetry_refuses_what_it_cannot_mirror(task, overrides, message):
    spec, env_cfg, train_cfg = resolve_configs(task, overrides=("train.fpo.symmetry=true", *overrides))
    env = make_env(spec, env_cfg, 2, "cpu", 0)
    with pytest.raises(ConfigError, match=message):
        make_runner(spec, env, env_cfg, train_cfg, "fpo", None, "cpu")


def test_fpo_refuses_an_augmentation_that_is_not_one_mirror_per_sample(monkeypatch):
    import fpo_locomotion.envs.symmetry as symmetry

    spec, env_cfg, train_cfg, env = g1_env(4, "train.fpo.symmetry=true", "train.runner.num_steps_per_env=2")

    def two_mirrors(env, obs=None, actions=None):
        obs, actions = mirror_augmentation(env, obs, actions)
        return (None if obs is None else torch.cat([obs, obs[:obs.batch_size[0] // 2]]),
                None if actions is None else torch.cat([actions, actions[:actions.shape[0] // 2]]))

    monkeypatch.setattr(symmetry, "mirror_augmentation", two_mirrors)  # what the symmetry config names
    with pytest.raises(ConfigError, match="one mirror per sample .* two_mirrors returned 3x"):
        make_runner(spec, env, env_cfg, train_cfg, "fpo", None, "cpu")  # refused when built, before any rollout

