"""``fpo-loco viz-bandit``: train FPO and Gaussian PPO on ``bandit-multimodal`` and plot their action samples.

The PNG has one column per seed, FPO on top, PPO below, over the reward landscape; each title gives
the fraction of samples in each mode and in the high-reward region.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from fpo_locomotion.train import make_env, make_runner, resolve_configs, seed_everything


def train_and_sample(algo: str, seed: int, budgets: list[int], task: str = "bandit-multimodal",
                     num_samples: int = 1000, overrides: tuple[str, ...] = ()) -> list[tuple[np.ndarray, list[float], float]]:
    """Train ``algo`` on a multimodal bandit (no logging) up to each of ``budgets`` (iterations, ascending) in one
    run; at each, (stochastic action samples [S, 2], share of them in each mode [M], share in any mode)."""
    spec, env_cfg, train_cfg = resolve_configs(task, None, overrides)
    train_cfg.runner.seed = seed
    seed_everything(seed)
    env = make_env(spec, env_cfg, spec.default_num_envs, "cpu", seed)
    runner = make_runner(spec, env, env_cfg, train_cfg, algo, None, "cpu")
    results, done = [], 0
    for budget in budgets:
        runner.learn(budget - done)
        done = budget
        policy = runner.get_inference_policy()
        obs = env.get_observations()[:1].expand(num_samples)
        with torch.inference_mode():
            actions = policy(obs, stochastic_output=True)
        results.append((actions.numpy(), *env.mode_shares(actions)))
    return results


def viz_bandit(out: str = "docs/bandit_modes.png", seeds: list[int] = (0, 1, 2), max_iterations: int | None = None) -> dict:
    """Train both algorithms on each seed, write the PNG to ``out``, print and return the mode fractions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec, env_cfg, train_cfg = resolve_configs("bandit-multimodal")
    env = make_env(spec, env_cfg, 1, "cpu", 0)
    grid = torch.linspace(-2, 2, 200)
    xx, yy = torch.meshgrid(grid, grid, indexing="xy")
    landscape = env.reward(torch.stack([xx.flatten(), yy.flatten()], dim=-1)).reshape(200, 200).numpy()

    fig, axes = plt.subplots(2, len(seeds), figsize=(4 * len(seeds), 8), squeeze=False)
    results = {}
    for col, seed in enumerate(seeds):
        for row, algo in enumerate(("fpo", "ppo")):
            start = time.time()
            ((actions, (plus, minus), high),) = train_and_sample(algo, seed, [max_iterations or train_cfg.runner.max_iterations])
            results[f"{algo}/seed{seed}"] = {"mode_plus": plus, "mode_minus": minus, "high_reward": high,
                                             "seconds": time.time() - start}
            print(f"{algo} seed {seed}: mode+ {plus:.0%}  mode- {minus:.0%}  high-reward {high:.0%}  "
                  f"({time.time() - start:.0f} s)")
            ax = axes[row, col]
            ax.contourf(grid, grid, landscape, levels=20, cmap="Greys")
            ax.scatter(actions[:, 0], actions[:, 1], s=3, alpha=0.5, color="tab:blue" if algo == "fpo" else "tab:red")
            ax.set(xlim=(-2, 2), ylim=(-2, 2), aspect="equal",
                   title=f"{algo.upper()} seed {seed}: {plus:.0%} / {minus:.0%} (high {high:.0%})")
    fig.suptitle("bandit-multimodal: action samples after training (FPO top, Gaussian PPO bottom)")
    fig.tight_layout()
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")
    return results
