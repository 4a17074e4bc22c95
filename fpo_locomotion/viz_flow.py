"""``fpo-loco viz-flow``: how FPO works, in pictures of 1-D policies trained on ``bandit-1d``.

Writes into ``out_dir``:

- ``flow_marginal.png``: the trained FPO policy's flow. Particle paths x_t from N(0, 1) noise at t=0 to
  actions at t=1 are the states of the policy's own Euler sampler (``FlowActor.sample_trajectory``), over
  the density of x_t as a heat map; beside them the histogram of the actions against the reward.
- ``flow_update.png``: one rollout batch of the untrained policy. Left, the flow that conditional flow
  matching (CFM) fits to the batch; middle, the same target with each action weighted by its positive
  advantage, which carries the noise to the high-reward actions: the direction FPO's clipped updates take.
- ``flow_ppo.png``: rsl_rl's Gaussian PPO on the same task, seed and budget, drawn as a flow too
  (``a = mu + sigma * eps``: straight, parallel paths that can shift and scale the noise, never split it).
- ``flow_particles.gif``: the FPO particles moving from noise to actions, one frame per Euler step.

Shapes: S particles, B batch actions, K flow steps, M reward bumps.
"""

from __future__ import annotations

import contextlib
import io
import os
import time

import numpy as np
import torch

from fpo_locomotion.errors import ConfigError
from fpo_locomotion.models.flow_actor import FlowActor
from fpo_locomotion.models.velocity_net import euler_path
from fpo_locomotion.train import make_env, make_runner, resolve_configs, seed_everything

TASK = "bandit-1d"
X_RANGE = (-3.0, 3.0)
"""Plotted action range: the bumps and almost all N(0, 1) noise."""
MODE_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown")
OFF_MODE_COLOR = "0.55"


def train(algo: str, seed: int, iterations: int):
    """(runner, env) of ``algo`` trained for ``iterations`` (0: untrained) on ``bandit-1d`` without logging."""
    spec, env_cfg, train_cfg = resolve_configs(TASK)
    seed_everything(seed)
    env = make_env(spec, env_cfg, spec.default_num_envs, "cpu", seed)
    with contextlib.redirect_stdout(io.StringIO()):  # rsl_rl prints the models: not this command's output
        runner = make_runner(spec, env, env_cfg, train_cfg, algo, None, "cpu")
    if iterations:
        runner.learn(iterations)
    return runner, env


def flow_paths(actor: FlowActor, env, noise: torch.Tensor) -> torch.Tensor:
    """Sampler states [K+1, S] of ``actor`` on the bandit's observation from ``noise`` [S] (x_0) to actions (x_K)."""
    with torch.inference_mode():
        latent = actor.get_latent(env.get_observations()[:1].expand(noise.shape[0]))
        return actor.sample_trajectory(latent, noise.unsqueeze(-1))[..., 0]


def gaussian_paths(model, env, noise: torch.Tensor, steps: int) -> torch.Tensor:
    """Straight paths [K+1, S] from ``noise`` [S] to a Gaussian policy's actions ``mu + sigma * noise``."""
    with torch.inference_mode():
        model(env.get_observations()[:1], stochastic_output=True)  # sets the distribution's mean and std
        actions = model.output_mean[0, 0] + model.output_std[0, 0] * noise
    t = torch.linspace(0.0, 1.0, steps + 1).unsqueeze(-1)
    return (1.0 - t) * noise + t * actions


class BatchTargetField:
    """The velocity that CFM fits to a batch of 1-D actions a_j [B] drawn with weights w_j [B]:
    ``u(x, t) = E_w[a - eps | x_t = x]`` with ``x_t = (1 - t) eps + t a``, ``eps ~ N(0, 1)``.

    Duck-types a velocity net (``project_obs``, ``velocity``) so the policy's own Euler sampler integrates it.
    """

    def __init__(self, actions: torch.Tensor, weights: torch.Tensor) -> None:
        self.actions = actions
        self.log_weights = weights.log()

    def project_obs(self, obs: torch.Tensor) -> torch.Tensor:
        return obs

    def velocity(self, obs_proj: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Velocity [S, 1] at ``x_t`` [S, 1], ``t`` [S] (< 1); the observation is ignored."""
        t = t.unsqueeze(-1)
        log_p = -(x_t - t * self.actions).pow(2) / (2 * (1 - t).pow(2)) + self.log_weights  # [S, B]
        posterior = torch.softmax(log_p, dim=-1)
        return (posterior * (self.actions - x_t)).sum(-1, keepdim=True) / (1 - t)


def target_paths(actions: torch.Tensor, weights: torch.Tensor, noise: torch.Tensor, steps: int) -> torch.Tensor:
    """Paths [K+1, S] of ``noise`` [S] through the :class:`BatchTargetField` of ``actions``, ``weights`` [B]."""
    field = BatchTargetField(actions, weights)
    return euler_path(field, noise.new_zeros(noise.shape[0], 1), noise.unsqueeze(-1), steps)[..., 0]


def plot_flow(ax, paths: torch.Tensor, env, title: str, num_lines: int = 50) -> None:
    """Heat map of the density of x_t at each t (each column scaled to its peak), and ``num_lines`` of ``paths``
    [K+1, S] colored by the mode their action lands in (grey: off-mode)."""
    steps = paths.shape[0] - 1
    bins = np.linspace(*X_RANGE, 121)
    counts = np.stack([np.histogram(p, bins=bins)[0] for p in paths.numpy()], axis=1)  # [bins, K+1]
    t_edges = np.linspace(-0.5 / steps, 1 + 0.5 / steps, steps + 2)
    ax.pcolormesh(t_edges, bins, np.sqrt(counts / counts.max(axis=0)), cmap="Greys", vmin=0, vmax=1.3)
    modes = env.mode_index(paths[-1].unsqueeze(-1))
    t = np.linspace(0.0, 1.0, steps + 1)
    for i in range(min(num_lines, paths.shape[1])):
        ax.plot(t, paths[:, i].numpy(), color=mode_color(modes[i]), lw=0.7, alpha=0.7)
    ax.set(xlim=(0, 1), ylim=X_RANGE, xlabel="flow time t (0: noise, 1: action)", ylabel="x_t", title=title)


def mode_color(mode: int) -> str:
    return MODE_COLORS[mode % len(MODE_COLORS)] if mode >= 0 else OFF_MODE_COLOR


def plot_actions(ax, env, histograms: list[tuple[torch.Tensor, str, str]], max_density: float | None = None) -> None:
    """Reward curve and a density histogram per ``(actions [S], label, color)``, action on the vertical axis;
    densities above ``max_density`` run off the panel."""
    bins = np.linspace(*X_RANGE, 91)
    for actions, label, color in histograms:
        ax.hist(actions.numpy(), bins=bins, density=True, orientation="horizontal", histtype="stepfilled",
                alpha=0.45, color=color, label=label)
    ax.set(ylim=X_RANGE, xlim=(0, max_density), xlabel="action density")
    ax.legend(loc="lower right", fontsize=7)
    x = torch.linspace(*X_RANGE, 400)
    reward_ax = ax.twiny()
    reward_ax.plot(env.reward(x.unsqueeze(-1)).numpy(), x.numpy(), color="k", lw=1.2)
    reward_ax.set_xlabel("reward (black)")


def format_shares(shares: list[float], off_mode: float) -> str:
    """'a / b / c, off d' in percent."""
    return " / ".join(f"{s:.0%}" for s in shares) + f", off {off_mode:.0%}"


def shares_text(env, actions: torch.Tensor) -> str:
    """Mode shares of ``actions`` [S] (see :func:`format_shares`)."""
    return format_shares(*env.mode_shares(actions.unsqueeze(-1)))


def marginal_figure(plt, env, paths: torch.Tensor, iterations: int):
    """Figure of the trained FPO policy's flow, ``paths`` [K+1, S]."""
    fig, (ax_flow, ax_hist) = plt.subplots(1, 2, figsize=(9, 4), sharey=True, width_ratios=(3, 1))
    plot_flow(ax_flow, paths, env, f"FPO after {iterations} iterations: its sampler's paths (K={paths.shape[0] - 1})")
    plot_actions(ax_hist, env, [(paths[-1], f"FPO {shares_text(env, paths[-1])}", "tab:blue")])
    fig.tight_layout()
    return fig


def update_figure(plt, env, seed: int, noise: torch.Tensor) -> tuple[object, dict]:
    """Figure and mode shares of the CFM target flow of one rollout batch of the untrained policy, plain and
    weighted by each action's positive advantage (module docstring)."""
    runner, _ = train("fpo", seed, 0)
    runner.learn(1)
    storage = runner.alg.storage  # clear() only rewinds its write cursor: the batch is still there
    actions, advantages = storage.actions.flatten(), storage.advantages.flatten()  # [B]; advantages normalized
    steps = runner.alg.get_policy().flow_steps
    plain = target_paths(actions, torch.ones_like(actions), noise, steps)
    weighted = target_paths(actions, advantages.clamp(min=0), noise, steps)
    shares = {"target": env.mode_shares(plain[-1].unsqueeze(-1)),
              "weighted_target": env.mode_shares(weighted[-1].unsqueeze(-1))}

    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), sharey=True, width_ratios=(2, 2, 1.2))
    plot_flow(axes[0], plain, env, "CFM target flow of the batch")
    plot_flow(axes[1], weighted, env, "the same, each action weighted by max(A, 0)")
    plot_actions(axes[2], env, [(plain[-1], f"plain {shares_text(env, plain[-1])}", "0.5"),
                                (weighted[-1], f"weighted {shares_text(env, weighted[-1])}", "tab:blue")])
    fig.suptitle(f"One rollout batch of the untrained policy ({actions.numel()} actions; advantage A = normalized "
                 "reward - value). FPO's gradient is the CFM loss's, weighted by A\n(pull towards actions with A > 0, "
                 "push from A < 0), taken in small clipped steps: the middle panel is where those steps lead.",
                 fontsize=9)
    fig.tight_layout()
    return fig, shares


def ppo_figure(plt, env, ppo_paths: torch.Tensor, fpo_paths: torch.Tensor, iterations: int):
    """Figure of the Gaussian PPO policy as a flow, ``ppo_paths`` [K+1, S], with FPO's actions for contrast."""
    fig, (ax_flow, ax_hist) = plt.subplots(1, 2, figsize=(9, 4), sharey=True, width_ratios=(3, 1))
    plot_flow(ax_flow, ppo_paths, env, f"Gaussian PPO after {iterations} iterations as a flow: a = mu + sigma * eps")
    fpo_peak = np.histogram(fpo_paths[-1].numpy(), bins=np.linspace(*X_RANGE, 91), density=True)[0].max()
    plot_actions(ax_hist, env, [(fpo_paths[-1], f"FPO {shares_text(env, fpo_paths[-1])}", "tab:blue"),
                                (ppo_paths[-1], f"PPO {shares_text(env, ppo_paths[-1])}", "tab:red")],
                 max_density=1.5 * fpo_peak)
    fig.tight_layout()
    return fig


def write_gif(plt, env, paths: torch.Tensor, path: str) -> None:
    """Particles of ``paths`` [K+1, S] moving over t above the reward curve, one frame per Euler step."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    steps = paths.shape[0] - 1
    colors = [mode_color(m) for m in env.mode_index(paths[-1].unsqueeze(-1)).tolist()]
    height = np.random.default_rng(0).uniform(0.05, 0.95, paths.shape[1])
    x = torch.linspace(*X_RANGE, 400)
    fig, ax = plt.subplots(figsize=(5, 2.6))
    ax.plot(x.numpy(), env.reward(x.unsqueeze(-1)).numpy(), color="k", lw=1.2)
    dots = ax.scatter(paths[0].numpy(), height, s=4, c=colors)
    ax.set(xlim=X_RANGE, ylim=(0, 1.05), xlabel="x_t (black: reward)", yticks=[])
    ax.set_title("FPO particles, t = 0.0", fontsize=9)
    fig.tight_layout()

    def frame(k: int):
        k = min(k, steps)  # the last frames hold t = 1
        dots.set_offsets(np.stack([paths[k].numpy(), height], axis=1))
        ax.set_title(f"FPO particles, t = {k / steps:.1f}", fontsize=9)
        return (dots,)

    FuncAnimation(fig, frame, frames=steps + 6).save(path, writer=PillowWriter(fps=4), dpi=80)
    plt.close(fig)


def viz_flow(out_dir: str = "docs", seed: int = 0, max_iterations: int | None = None, num_particles: int = 2000) -> dict:
    """Train FPO and PPO on ``bandit-1d`` (the task's budget unless ``max_iterations``), write the figures of the
    module docstring into ``out_dir``, print and return the numbers::

        {"fpo" | "fpo_sampled" | "ppo": {"mode_shares": [M], "off_mode": float},
         "update": {"target" | "weighted_target": ([M] shares, off-mode)},
         "fpo_paths": [K+1, S], "noise": [S], "files": [paths], "seconds": float}

    ``fpo`` counts the plotted particles' actions, ``fpo_sampled`` fresh samples of the policy (the same law).
    """
    if max_iterations is not None and max_iterations < 1:
        raise ConfigError(f"--max-iterations must be a positive integer, got {max_iterations}.")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = time.time()
    iterations = max_iterations or resolve_configs(TASK)[2].runner.max_iterations
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"Cannot write --out-dir '{out_dir}' ({e.strerror}); pass a writable folder.") from None
    noise = torch.randn(num_particles, generator=torch.Generator().manual_seed(seed))

    fpo, env = train("fpo", seed, iterations)
    actor = fpo.alg.get_policy()
    paths = flow_paths(actor, env, noise)
    with torch.inference_mode():
        sampled = actor(env.get_observations()[:1].expand(num_particles), stochastic_output=True)[:, 0]
    ppo, _ = train("ppo", seed, iterations)
    ppo_paths = gaussian_paths(ppo.alg.get_policy(), env, noise, paths.shape[0] - 1)
    results: dict = {"fpo_paths": paths, "noise": noise}
    for key, actions in (("fpo", paths[-1]), ("fpo_sampled", sampled), ("ppo", ppo_paths[-1])):
        shares, off = env.mode_shares(actions.unsqueeze(-1))
        results[key] = {"mode_shares": shares, "off_mode": off}

    update_fig, results["update"] = update_figure(plt, env, seed, noise)
    figures = {"flow_marginal.png": marginal_figure(plt, env, paths, iterations), "flow_update.png": update_fig,
               "flow_ppo.png": ppo_figure(plt, env, ppo_paths, paths, iterations)}
    results["files"] = []
    for name, fig in figures.items():
        results["files"].append(os.path.join(out_dir, name))
        fig.savefig(results["files"][-1], dpi=90)
        plt.close(fig)
    results["files"].append(os.path.join(out_dir, "flow_particles.gif"))
    write_gif(plt, env, paths[:, :300], results["files"][-1])

    results["seconds"] = time.time() - start
    for key in ("fpo", "fpo_sampled", "ppo"):
        print(f"{key}: mode shares {format_shares(results[key]['mode_shares'], results[key]['off_mode'])}")
    for key, (shares, off) in results["update"].items():
        print(f"{key} of one batch: mode shares {format_shares(shares, off)}")
    print(f"wrote {', '.join(results['files'])} ({results['seconds']:.0f} s)")
    return results
