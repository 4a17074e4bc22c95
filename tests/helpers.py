"""Shared test helpers: checkpoints of fresh runners, a flow policy with non-trivial weights, rollouts."""

import torch

from fpo_locomotion.train import make_env, make_runner, resolve_configs

ESTIMATED_BASE_VELOCITY = ("env.observations.estimated.base_lin_vel.func=base_lin_vel",
                           "env.observations.estimated.base_lin_vel.scale=2.0", "train.flow_actor.estimator_hidden_dims=[32]")
"""Overrides for a G1-Flat flow actor that estimates its base velocity (an estimator MLP of one 32-wide layer)."""


def save_untrained(path, task="G1-Flat", algo="fpo", overrides=()):
    """A checkpoint of a freshly initialized runner (no update), written by the runner's own save()."""
    spec, env_cfg, train_cfg = resolve_configs(task, overrides=tuple(overrides))
    env = make_env(spec, env_cfg, 2, "cpu", 0)
    make_runner(spec, env, env_cfg, train_cfg, algo, None, "cpu").save(str(path))
    return str(path)


def randomize_flow_policy(path, seed=0):
    """Give the flow policy in checkpoint ``path`` a random output layer (an untrained one is zero, so the
    policy would output x_0) and random observation statistics (to see the normalization baked in)."""
    saved = torch.load(path, weights_only=True)
    for key in ("actor_state_dict", "ema_actor_state_dict"):
        if key not in saved:
            continue
        gen = torch.Generator().manual_seed(seed)
        w = saved[key]
        last = max(int(name.split(".")[2]) for name in w if name.startswith("net.trunk."))
        fan_in = w[f"net.trunk.{last}.weight"].shape[1]
        for name in (f"net.trunk.{last}.weight", f"net.trunk.{last}.bias"):
            w[name] = 0.8 / fan_in**0.5 * torch.randn(w[name].shape, generator=gen)
        w["obs_normalizer._mean"] = torch.randn(w["obs_normalizer._mean"].shape, generator=gen)
        w["obs_normalizer._std"] = 0.5 + torch.rand(w["obs_normalizer._std"].shape, generator=gen)
        w["obs_normalizer._var"] = w["obs_normalizer._std"] ** 2
    torch.save(saved, path)
    return str(path)


def collect_rollout(alg, env, steps: int) -> None:
    """Fill ``alg``'s storage with ``steps`` steps of ``env`` and compute returns (rsl_rl's rollout loop)."""
    obs = env.get_observations()
    with torch.inference_mode():
        for _ in range(steps):
            actions = alg.act(obs)
            obs, rewards, dones, extras = env.step(actions)
            alg.process_env_step(obs, rewards, dones, extras)
        alg.compute_returns(obs)
