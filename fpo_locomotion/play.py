"""``fpo-loco play``: look at a checkpoint: a video, a velocity plot and a JSON summary, headless.

The checkpoint's policy (the EMA actor where the checkpoint has one; zero-sampling for a flow policy, the
mean for a Gaussian one) runs the task's Play variant (``G1-Flat`` -> ``G1-Flat-Play``: no observation
noise, no randomization, no pushes; ``--disturbed``: the training run's, at their final level) on the CPU
MuJoCo backend; ``--set env.KEY=VALUE`` changes the env config on top. The env config is the checkpoint's own
(action scale, gait, physics as trained) with the Play variant's changes on top; the commands follow a
schedule of segments (``--commands "vx,vy,wz;..."``, ``--duration`` seconds each; by default the Play
variant's schedule), set through the task's ``commands.schedule`` and restarted at each episode start.

Outputs (next to ``--video``, default ``<run dir>/play/<checkpoint>.mp4``):
- ``<name>.mp4``: env 0, camera following the pelvis (offscreen rendering, ``MUJOCO_GL=egl``);
- ``<name>_velocity.png``: commanded vs measured base velocity (vx, vy, yaw rate; base frame) of env 0;
- ``<name>_summary.json``: per command segment (all envs, after ``settle_s``) the mean measured velocity
  and tracking errors, the time it took to reach the command (``reached_s``), falls, and the mean episode
  length.

Without a display, rendering needs EGL (``libegl1``, ``libgl1-mesa-dri`` on Debian/Ubuntu; the NVIDIA driver
on a GPU machine); ``MUJOCO_GL=osmesa`` (``libosmesa6``) is the slower fallback; ``--no-video`` skips it.
``--viewer`` opens MuJoCo's interactive viewer on env 0 instead (needs a display).
"""

from __future__ import annotations

import os

if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering; must precede the first `import mujoco`

import copy
import json
import time

import numpy as np
import torch

from fpo_locomotion.checkpoints import build_policy, check_checkpoint_fits, load_checkpoint, resolve_checkpoint, saved_env_cfg
from fpo_locomotion.config import apply_overrides, parse_set_overrides
from fpo_locomotion.errors import CheckpointError, ConfigError, UserError
from fpo_locomotion.pretrained import output_dir
from fpo_locomotion.rendering import FrameRecorder
from fpo_locomotion.sim2sim import parse_commands, print_segments, reached_time, segment_summary, write_video


def play_env_config(infos: dict, task: str, schedule: list[list[float]] | None, disturbed: bool = False,
                    overrides: dict | None = None):
    """The checkpoint's env config made the Play variant's (``TaskSpec.play`` of ``task`` or of the task it
    plays), on the CPU backend, with ``schedule`` rows [duration_s, vx, vy, wz] (None: the Play variant's), and
    episodes long enough for one pass of it.

    ``disturbed``: keep the checkpoint's randomization, pushes and observation noise, at the curriculum's final
    level. ``overrides``: a nested ``env`` dict (``--set env.KEY=VALUE``) applied last.
    """
    from fpo_locomotion.tasks.registry import play_pair

    train_spec, play_spec = play_pair(task)
    train_name, play_name = train_spec.name, play_spec.name
    trained = saved_env_cfg(infos, train_spec)
    cfg = copy.deepcopy(trained)
    if train_spec.play is not None:
        cfg = train_spec.play(cfg)
    if disturbed:
        if not hasattr(cfg, "events"):
            raise UserError(f"Task '{train_name}' has no disturbances (env.events) to play with.")
        for section in ("events", "observations"):  # the observations carry the noise
            if hasattr(trained, section):
                setattr(cfg, section, copy.deepcopy(getattr(trained, section)))
        if hasattr(cfg, "disturbance_curriculum"):
            cfg.disturbance_curriculum = [0, 0]
    apply_overrides(cfg, overrides or {}, prefix="env.")
    if not hasattr(cfg, "commands") or not hasattr(cfg.commands, "schedule"):
        raise UserError(f"Task '{train_name}' has no command schedule (env.commands.schedule); play runs locomotion "
                        "tasks such as G1-Flat.")
    if schedule is not None:
        cfg.commands.schedule = [list(row) for row in schedule]
    if not cfg.commands.schedule:
        raise UserError(f"Task '{play_name}' has no default command schedule; pass --commands.")
    total = sum(row[0] for row in cfg.commands.schedule)
    cfg.episode_length_s = max(cfg.episode_length_s, total + 1.0)
    if hasattr(cfg, "backend"):
        cfg.backend = "mujoco"
    return cfg


def load_policy(checkpoint: str, task: str, num_envs: int, schedule: list[list[float]] | None, seed: int = 0,
                disturbed: bool = False, overrides: dict | None = None):
    """(env, policy, weights, loaded checkpoint dict): the Play env and the checkpoint's actor on the CPU
    (:func:`~fpo_locomotion.checkpoints.build_policy`: EMA weights where present; ``weights`` "ema"/"actor").

    Raises CheckpointError for a checkpoint of another task or one whose observation/action layout differs.
    """
    from fpo_locomotion.tasks.registry import play_pair
    from fpo_locomotion.train import env_layout, make_env

    loaded = load_checkpoint(checkpoint)
    infos = loaded["infos"]
    train_spec, play_spec = play_pair(task)
    train_name = train_spec.name
    if infos.get("task") not in (train_name, play_spec.name):
        raise CheckpointError(f"Checkpoint '{checkpoint}' was trained on task '{infos.get('task')}', not "
                              f"'{train_name}'. Pass --task {infos.get('task')} or a checkpoint of {train_name}.")
    env_cfg = play_env_config(infos, task, schedule, disturbed, overrides)
    env = make_env(play_spec, env_cfg, num_envs, "cpu", seed)
    check_checkpoint_fits(infos, {**infos, **env_layout(env)}, checkpoint)  # the Play env's obs/action layout
    policy, weights = build_policy(loaded)
    return env, policy, weights, loaded


def _mean_trace(measured: np.ndarray, offset: np.ndarray, in_segment: np.ndarray) -> np.ndarray:
    """[K, 3]: the envs' mean of ``measured`` [T, N, 3] at each control step 0..K-1 into a segment, from each
    env's steps into its segment ``offset`` [T, N] where ``in_segment`` [T, N] (envs that fell restart their
    schedule, so the envs' segments need not line up)."""
    steps = offset[in_segment]
    sums = np.zeros((steps.max(initial=-1) + 1, 3))
    counts = np.zeros(len(sums))
    np.add.at(sums, steps, measured[in_segment])
    np.add.at(counts, steps, 1)
    reached = counts > 0
    return sums[reached] / counts[reached, None]


def _command_slice(env) -> tuple[slice, np.ndarray]:
    """Where the "command" term's newest frame sits in the policy observation, and its scale [3]."""
    start = 0
    for term in env.deploy_metadata()["observation_terms"]:
        end = start + term["size"]
        if term["name"] == "command":
            size = term["size"] // term["history_length"]
            return slice(end - size, end), np.broadcast_to(np.asarray(term["scale"], np.float64), size)
        start = end
    raise UserError("The task's policy observation has no 'command' term; play needs one to plot tracking.")


def plot_velocity(path: str, t: np.ndarray, commanded: np.ndarray, measured: np.ndarray, falls: list[float],
                  boundaries: list[float], title: str) -> None:
    """Three panels (vx, vy, yaw rate): commanded (dashed) vs measured over time ``t`` [T]; falls as red lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(10, 7), sharex=True)
    labels = ["vx (m/s)", "vy (m/s)", "yaw rate (rad/s)"]
    for i, ax in enumerate(axes):
        ax.plot(t, measured[:, i], color="tab:blue", lw=1.0, label="measured")
        ax.plot(t, commanded[:, i], color="black", ls="--", lw=1.2, label="commanded")
        for b in boundaries:
            ax.axvline(b, color="0.8", lw=0.8, zorder=0)
        for k, f in enumerate(falls):
            ax.axvline(f, color="tab:red", lw=1.2, label="fall" if k == 0 else None)
        ax.set_ylabel(labels[i])
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper right", ncol=3, fontsize=8)
    axes[0].set_title(title, fontsize=10)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def play(checkpoint: str, task: str, commands: str | None = None, duration: float | None = None,
         video: str | None = None, num_envs: int = 1, render: bool = True, viewer: bool = False,
         log_root: str = "logs", fps: float = 25.0, width: int = 640, height: int = 480, settle_s: float = 1.0,
         seed: int = 0, disturbed: bool = False, overrides: tuple[str, ...] = ()) -> dict:
    """Run a checkpoint on the Play variant of ``task`` for one pass of the command schedule; returns the summary.

    ``commands``: "vx,vy,wz;..." segments of ``duration`` s each (default: the Play variant's schedule, whose
    segment durations ``duration`` replaces if given). ``disturbed`` and ``overrides`` ("env.KEY=VALUE"
    pairs): see :func:`play_env_config`. ``checkpoint``: a file, a run directory, "latest" or
    "pretrained:<name>".
    """
    torch.set_num_threads(1)  # batch-1 policy: more threads only compete with the physics threads
    if viewer and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError("--viewer needs a display; without one, play writes a video (MUJOCO_GL=egl).")
    if num_envs < 1:
        raise ConfigError(f"--num-envs must be a positive integer, got {num_envs}.")
    if duration is not None and not duration > 0:
        raise ConfigError(f"--duration must be positive (seconds per command), got {duration}.")
    if not fps > 0:
        raise ConfigError(f"--fps must be positive, got {fps}.")
    if seed < 0:
        raise ConfigError(f"--seed must be a non-negative integer, got {seed}.")
    sections = parse_set_overrides(list(overrides))
    if set(sections) - {"env"}:
        raise ConfigError("play takes env.* overrides only (the policy is the checkpoint's), e.g. "
                          "--set env.events.push.params.max_vel_xy=1.0.")
    from fpo_locomotion.tasks.registry import play_pair

    train_spec, play_spec = play_pair(task)
    path = resolve_checkpoint(checkpoint, train_spec.name, log_root)
    schedule = None
    if commands:
        schedule = [[duration or 4.0, *c] for c in parse_commands(commands)]
    elif duration is not None:
        schedule = [[duration, *row[1:]] for row in play_spec.env_cfg().commands.schedule]
    env, policy, weights, loaded = load_policy(path, task, num_envs, schedule, seed, disturbed, sections.get("env"))
    rows = np.array(env.cfg.commands.schedule, dtype=np.float64)  # [S, 4]
    ends = np.cumsum(rows[:, 0])
    dt = env.backend.control_dt
    steps = int(round(ends[-1] / dt))
    cmd_slice, cmd_scale = _command_slice(env)

    video_path = video or os.path.join(output_dir(checkpoint, path, log_root), "play",
                                       os.path.splitext(os.path.basename(path))[0] + ".mp4")
    stem = os.path.splitext(video_path)[0]
    os.makedirs(os.path.dirname(os.path.abspath(video_path)), exist_ok=True)
    scene = _EnvZeroScene(env, viewer=viewer, render=render and not viewer, width=width, height=height)
    frame_every = max(1, round(1.0 / (fps * dt)))

    ep_step = np.zeros(num_envs, dtype=np.int64)  # per-env steps since the episode start
    commanded, measured, segment, offset = [], [], [], []
    episode_lengths, falls_env0 = [], []
    falls_per_segment = np.zeros(len(rows), dtype=np.int64)
    obs = env.get_observations()
    start = time.perf_counter()
    with torch.inference_mode():
        for n in range(steps):
            t_ep = (ep_step * dt) % ends[-1]
            seg = np.searchsorted(ends, t_ep, side="right")
            seg_start = np.concatenate([[0.0], ends])[seg]
            commanded.append(obs["policy"][:, cmd_slice].numpy() / cmd_scale)
            obs, _, dones, extras = env.step(policy(obs))
            measured.append(torch.cat([env.backend.root_lin_vel_b[:, :2], env.backend.root_ang_vel_b[:, 2:]], 1).numpy())
            segment.append(seg)
            offset.append(np.rint((t_ep - seg_start) / dt).astype(np.int64))
            ep_step += 1
            done = dones.numpy().astype(bool)
            fell = done & ~extras["time_outs"].numpy().astype(bool)
            np.add.at(falls_per_segment, seg[fell], 1)
            if fell[0]:
                falls_env0.append((n + 1) * dt)
            episode_lengths += list(ep_step[done] * dt)
            ep_step[done] = 0
            if n % frame_every == 0 or viewer:
                scene.update()
    episode_lengths += list(ep_step[ep_step > 0] * dt)  # episodes still running at the end
    wall = time.perf_counter() - start
    scene.close(video_path, fps=1.0 / (frame_every * dt))

    commanded, measured = np.stack(commanded), np.stack(measured)  # [T, N, 3]
    segment, offset = np.stack(segment), np.stack(offset)  # [T, N]: segment, control steps into it
    settled = offset * dt >= settle_s - 1e-9
    segments = []
    for s in range(len(rows)):
        mask = (segment == s) & settled
        if not mask.any():
            mask = segment == s
        summary = segment_summary(rows[s, 1:], measured[mask], int(falls_per_segment[s]), 0,
                                  reached_time(rows[s, 1:], _mean_trace(measured, offset, segment == s), dt))
        summary["duration_s"] = float(rows[s, 0])
        segments.append(summary)
    t = dt * np.arange(1, steps + 1)
    plot_path = f"{stem}_velocity.png"
    infos = loaded["infos"]
    title = (f"{infos['task']} {infos['algo'].upper()} ({weights} weights), {os.path.basename(path)}, env 0: "
             "commanded vs measured base velocity")
    plot_velocity(plot_path, t, commanded[:, 0], measured[:, 0], falls_env0, list(ends[:-1]), title)
    result = {
        "checkpoint": os.path.abspath(path),
        "task": infos["task"],
        "play_task": play_spec.name,
        "algo": infos["algo"],
        "weights": weights,
        "num_envs": num_envs,
        "disturbed": disturbed,
        "overrides": list(overrides),
        "seed": seed,
        "duration_s": steps * dt,
        "settle_s": settle_s,
        "segments": segments,
        "falls": int(falls_per_segment.sum()),
        "episodes": len(episode_lengths),
        "mean_episode_length_s": float(np.mean(episode_lengths)),
        "video": os.path.abspath(video_path) if scene.wrote_video else None,
        "plot": os.path.abspath(plot_path),
        "wall_s": wall,
    }
    summary_path = f"{stem}_summary.json"
    result["summary"] = os.path.abspath(summary_path)
    with open(summary_path, "w") as f:
        json.dump(result, f, indent=2)
    print_segments(segments, f"play {path} on {result['play_task']}{' with disturbances' if disturbed else ''} "
                             f"({num_envs} env(s), seed {seed}, {result['duration_s']:g} s, "
                             f"errors after {settle_s:g} s of each segment):")
    print(f"  falls: {result['falls']}; mean episode length {result['mean_episode_length_s']:.1f} s over "
          f"{result['episodes']} episode(s)")
    for key in ("video", "plot", "summary"):
        if result[key]:
            print(f"  {key}: {result[key]}")
    return result


class _EnvZeroScene:
    """Env 0 of a MuJoCo-backend env, shown in the interactive viewer or recorded as video frames."""

    def __init__(self, env, viewer: bool, render: bool, width: int, height: int):
        import mujoco

        self.frames: list[np.ndarray] = []
        self.wrote_video = False
        self.viewer = self.recorder = None
        if not (viewer or render):
            return
        self.backend = env.backend
        if not hasattr(self.backend, "batch"):
            raise UserError("Rendering needs the CPU MuJoCo backend.")
        self.model = self.backend.batch.get_model(0)
        self.data = mujoco.MjData(self.model)
        self.base_id = self.model.body(self.backend.spec.base_body_name).id
        self._mujoco = mujoco
        self._sync()
        if viewer:
            import mujoco.viewer

            self.viewer = mujoco.viewer.launch_passive(self.model, self.data)
            self._next = time.perf_counter()
        else:
            self.recorder = FrameRecorder(self.model, width, height)

    def _sync(self) -> None:
        self.backend.batch.get_data(0, self.data)
        self._mujoco.mj_forward(self.model, self.data)

    def update(self) -> None:
        if self.viewer is not None:
            if not self.viewer.is_running():
                return
            self._sync()
            self.viewer.sync()
            self._next += self.backend.control_dt  # real time
            time.sleep(max(0.0, self._next - time.perf_counter()))
        elif self.recorder is not None:
            self._sync()
            self.frames.append(self.recorder.frame(self.data, self.data.xpos[self.base_id]))

    def close(self, video_path: str, fps: float) -> None:
        if self.viewer is not None:
            self.viewer.close()
        if self.recorder is not None:
            self.recorder.close()
            write_video(video_path, self.frames, fps)
            self.wrote_video = True
