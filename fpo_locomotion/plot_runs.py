"""``fpo-loco plot-runs``: curves of tensorboard scalars of several runs on one figure (e.g. FPO vs PPO)."""

from __future__ import annotations

import glob
import os

import numpy as np
import yaml

from fpo_locomotion.errors import ConfigError

DEFAULT_TAGS = ("Train/mean_episode_length", "Episode_Reward/track_lin_vel_xy", "Episode_Reward/track_ang_vel_z",
                "Metrics/lin_vel_error")


def read_scalars(run_dir: str, tag: str) -> tuple[list[int], list[float]]:
    """(iterations, values) of scalar ``tag`` in the tensorboard events of ``run_dir``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(run_dir, size_guidance={"scalars": 0})
    events.Reload()
    if tag not in events.Tags()["scalars"]:
        return [], []
    scalars = events.Scalars(tag)
    return [s.step for s in scalars], [s.value for s in scalars]


X_AXES = {"iteration": "iteration", "env_steps": "env steps (millions)", "wall_clock": "training wall-clock (min)"}


def x_values(run_dir: str, iterations: list[int], x: str) -> np.ndarray:
    """The x coordinate of each logged iteration [I]: the iteration, env steps (millions: iterations x envs x
    steps per env, from the run's ``config.yaml``) or minutes of training (cumulative collection + learning
    time, so pauses of a resumed run do not count)."""
    its = np.asarray(iterations, dtype=np.float64)
    if x == "iteration":
        return its
    if x == "env_steps":
        with open(os.path.join(run_dir, "config.yaml")) as f:
            cfg = yaml.safe_load(f)
        return (its + 1) * cfg["num_envs"] * cfg["train"]["runner"]["num_steps_per_env"] / 1e6
    (collect_its, collect), (learn_its, learn) = (read_scalars(run_dir, f"Perf/{t}_time") for t in ("collection", "learning"))
    per_it = dict(zip(collect_its, collect))
    for it, value in zip(learn_its, learn):
        per_it[it] = per_it.get(it, 0.0) + value
    order = sorted(per_it)
    minutes = dict(zip(order, np.cumsum([per_it[i] for i in order]) / 60.0))
    return np.array([minutes.get(i, np.nan) for i in iterations])


def plot_runs(run_dirs: list[str], out: str, tags: tuple[str, ...] = DEFAULT_TAGS, smooth: int = 10,
              window: int = 10, x: str = "iteration") -> list[dict]:
    """One panel per tag, one line per run (moving average over ``smooth`` iterations) against ``x`` (a key of
    ``X_AXES``), written to ``out``.

    Prints and returns one row per run and tag: the mean of the first and of the last ``window`` logged values.
    """
    if x not in X_AXES:
        raise ConfigError(f"--x {x}: valid are {', '.join(X_AXES)}.")
    if smooth < 1:
        raise ConfigError(f"--smooth must be a positive number of iterations, got {smooth}.")
    missing = [run for run in run_dirs if not glob.glob(os.path.join(run, "events.out.tfevents.*"))]
    if missing:
        raise ConfigError(f"No tensorboard events in {', '.join(missing)}; pass run folders written by 'fpo-loco train'.")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tags), figsize=(4.5 * len(tags), 3.5), squeeze=False)
    rows = []
    for ax, tag in zip(axes[0], tags):
        for run in run_dirs:
            name = os.path.basename(os.path.normpath(run))
            steps, values = read_scalars(run, tag)
            if not values:
                continue
            k = max(1, min(smooth, len(values)))
            smoothed = np.convolve(values, np.ones(k) / k, mode="valid")
            ax.plot(x_values(run, steps, x)[k - 1:], smoothed, label=name)
            rows.append({"run": name, "tag": tag, "iterations": f"{steps[0]}-{steps[-1]}",
                         "first": float(np.mean(values[:window])), "last": float(np.mean(values[-window:]))})
        ax.set(title=tag, xlabel=X_AXES[x])
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")
    print(f"mean of the first -> last {window} logged iterations")
    for r in rows:
        print(f"  {r['run']:40s} {r['tag']:34s} {r['first']:10.4f} -> {r['last']:10.4f}  (its {r['iterations']})")
    return rows
