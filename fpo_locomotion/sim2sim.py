"""``fpo-loco sim2sim``: run an exported ``policy.onnx`` in MuJoCo with onnxruntime and numpy only (no torch).

Everything comes from the ONNX file's metadata (written by ``fpo-loco export``), as a robot-side program
would have it: the MJCF (``model``, inside ``fpo_locomotion/resources``), joint names in action order, the
default pose, Kp/Kd/effort limits (set on the MJCF's position actuators), physics dt and decimation, and
the ordered observation terms, each built here from raw simulator values by a small numpy table
(``OBSERVATION_TERMS``), multiplied by its scale and kept for its ``history_length`` frames. One control
step: observation -> ``actions`` -> joint targets ``q* = default + action_scale * a`` as ``ctrl`` ->
``decimation`` physics steps.

Commands run as segments of ``duration`` seconds each. Per segment it reports the mean measured base
velocity (base frame), the tracking errors after a settling time, and falls. A fall (base below half its
start height, or tilted more than 1 rad) puts the robot back at its start pose and restarts its episode
clock (gait phase, last action).

Nothing on this path may import torch: of this package only torch-free modules are imported (``errors``,
``envs.mjcf``, which also builds the backends' PD servos, so deployment's PD is training's).
"""

from __future__ import annotations

import os

if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering; must precede the first `import mujoco`

import importlib.resources
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np
import onnxruntime as ort

from fpo_locomotion.envs.mjcf import joints, root_addresses, set_pd_servos
from fpo_locomotion.errors import UserError
from fpo_locomotion.pretrained import pretrained_file
from fpo_locomotion.rendering import FrameRecorder

REQUIRED_METADATA = ("task", "joint_names", "default_joint_pos", "kp", "kd", "effort_limit", "action_scale",
                     "control_dt", "physics_dt", "decimation", "observation_terms", "command_names",
                     "command_ranges", "gait_period", "model", "obs_dim", "action_dim", "policy_type", "algo")
DEFAULT_COMMANDS = [(0.0, 0.0, 0.0), (0.5, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.5, 0.0), (0.0, 0.0, 1.0), (-0.5, 0.0, 0.0)]
"""Stand, forward slow and fast, sideways, turn in place, backwards (as G1-Flat-Play)."""
FALL_HEIGHT_FRACTION = 0.5
FALL_TILT_RAD = 1.0
REACH_WINDOW_S, REACH_LIN_TOL, REACH_YAW_TOL = 0.5, 0.15, 0.2
"""A segment's command is reached once the mean velocity over this many seconds is within these m/s and rad/s of
it (the play targets of issue 10): :func:`reached_time`."""


# ---------------------------------------------------------------------------------------------- metadata
def load_session(onnx_path: str, threads: int = 1) -> ort.InferenceSession:
    """An onnxruntime CPU session (``threads`` intra/inter-op threads) with a clear error for a bad file.

    An export folder stands for its ``policy.onnx``, "pretrained:<name>" for a shipped policy's.
    """
    onnx_path = pretrained_file(onnx_path, "policy.onnx") or onnx_path
    if os.path.isdir(onnx_path):
        onnx_path = os.path.join(onnx_path, "policy.onnx")
    if not os.path.isfile(onnx_path):
        raise UserError(f"'{onnx_path}' does not exist. Export a policy first: fpo-loco export CHECKPOINT.")
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = threads
    try:
        return ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for garbled files
        raise UserError(f"'{onnx_path}' is not a readable ONNX model ({type(e).__name__}); "
                        "pass the policy.onnx written by 'fpo-loco export'.") from None


def _decode_metadata(session: ort.InferenceSession, onnx_path: str) -> dict:
    props = session.get_modelmeta().custom_metadata_map
    metadata = {}
    for key, value in props.items():
        try:
            metadata[key] = json.loads(value)
        except json.JSONDecodeError:
            raise UserError(f"'{onnx_path}': metadata key '{key}' is not JSON ({value[:40]!r}); re-export the policy "
                            "with 'fpo-loco export'.") from None
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        if "obs_dim" in metadata:  # our export of a task without a robot (e.g. the toy tasks)
            raise UserError(f"'{onnx_path}' was exported from task '{metadata.get('task')}', which describes no robot "
                            f"(missing {', '.join(missing)}); sim2sim runs locomotion tasks such as G1-Flat.")
        raise UserError(f"'{onnx_path}' has no fpo-locomotion deploy metadata (missing {', '.join(missing)}). "
                        "Use a policy.onnx written by 'fpo-loco export'.")
    if [i.name for i in session.get_inputs()] != ["obs"] or [o.name for o in session.get_outputs()] != ["actions"]:
        raise UserError(f"'{onnx_path}' is not a deterministic policy graph (inputs "
                        f"{[i.name for i in session.get_inputs()]}); pass the policy.onnx of the export folder.")
    _check_metadata(metadata, session, onnx_path)
    return metadata


def _check_metadata(meta: dict, session: ort.InferenceSession, onnx_path: str) -> None:
    """UserError if the metadata disagrees with the graph's input/output widths or with itself."""
    problems = []
    (obs,), (actions,) = session.get_inputs(), session.get_outputs()
    if isinstance(obs.shape[-1], int) and obs.shape[-1] != meta["obs_dim"]:
        problems.append(f"obs_dim {meta['obs_dim']} but the graph takes {obs.shape[-1]} inputs")
    if isinstance(actions.shape[-1], int) and actions.shape[-1] != meta["action_dim"]:
        problems.append(f"action_dim {meta['action_dim']} but the graph gives {actions.shape[-1]} actions")
    joints = len(meta["joint_names"])
    for key in ("default_joint_pos", "kp", "kd", "effort_limit"):
        if not isinstance(meta[key], list) or len(meta[key]) != joints:
            problems.append(f"{key} has {len(meta[key]) if isinstance(meta[key], list) else 'no'} values for {joints} joints")
    if joints != meta["action_dim"]:
        problems.append(f"{joints} joint names for {meta['action_dim']} actions")
    sizes = sum(int(t.get("size", 0)) for t in meta["observation_terms"])
    if sizes != meta["obs_dim"]:
        problems.append(f"observation terms total {sizes} values, obs_dim is {meta['obs_dim']}")
    if problems:
        raise UserError(f"'{onnx_path}': its metadata does not fit: {'; '.join(problems)}. Re-export the policy.")


def model_path(metadata: dict) -> Path:
    """The MJCF named by ``metadata["model"]``: relative to the installed ``fpo_locomotion/resources``, or absolute."""
    path = Path(metadata["model"])
    if not path.is_absolute():
        path = Path(str(importlib.resources.files("fpo_locomotion.resources"))).joinpath(path)
    if not path.is_file():
        raise UserError(f"The policy's robot model '{metadata['model']}' is not in this installation ({path}).")
    return path


def parse_commands(text: str | None) -> list[tuple[float, float, float]]:
    """``"vx,vy,wz;vx,vy,wz"`` -> [(vx, vy, wz), ...] (``DEFAULT_COMMANDS`` for None or empty)."""
    if not text:
        return list(DEFAULT_COMMANDS)
    commands = []
    for part in text.split(";"):
        if not part.strip():
            continue
        try:
            values = tuple(float(x) for x in part.split(","))
        except ValueError:
            values = ()
        if len(values) != 3 or not all(math.isfinite(v) for v in values):
            raise UserError(f"--commands: '{part.strip()}' is not 'vx,vy,wz' (three numbers); "
                            "segments are separated by ';', e.g. \"0,0,0;0.5,0,0\".")
        commands.append(values)
    if not commands:
        raise UserError("--commands has no segment; give e.g. \"0,0,0;0.5,0,0\".")
    return commands


# ---------------------------------------------------------------------------------------------- numpy robot
def quat_rotate_inverse(quat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """``vec`` [3] rotated by the inverse of the unit quaternion ``quat`` (w, x, y, z): world -> body frame."""
    w, xyz = quat[0], -quat[1:]
    t = 2.0 * np.cross(xyz, vec)
    return vec + w * t + np.cross(xyz, t)


@dataclass
class RobotState:
    """Raw values the observation terms read, for one robot at one control step (float64 arrays)."""

    lin_vel_b: np.ndarray          # [3] base linear velocity, base frame (a robot's state estimator gives it)
    ang_vel_b: np.ndarray          # [3] base angular velocity, base frame
    lin_acc_b: np.ndarray          # [3] specific force (the IMU's accelerometer), base frame
    gravity_b: np.ndarray          # [3] unit gravity direction, base frame
    command: np.ndarray            # [3] vx, vy, yaw rate
    joint_pos: np.ndarray          # [J] action order
    default_joint_pos: np.ndarray  # [J]
    joint_vel: np.ndarray          # [J]
    last_action: np.ndarray        # [J] raw policy output of the last step (0 at an episode start)
    episode_time: float            # s since the episode start
    gait_period: float | None


def _gait_phase(s: RobotState) -> np.ndarray:
    if s.gait_period is None:
        raise UserError("The policy observes 'gait_phase' but its metadata has no gait_period.")
    angle = 2.0 * math.pi * (math.fmod(s.episode_time, s.gait_period) / s.gait_period)
    return np.array([math.sin(angle), math.cos(angle)])


OBSERVATION_TERMS: dict[str, Callable[[RobotState], np.ndarray]] = {
    "base_lin_vel": lambda s: s.lin_vel_b,                     # m/s, base frame
    "base_ang_vel": lambda s: s.ang_vel_b,                     # rad/s, base frame
    "base_lin_acc": lambda s: s.lin_acc_b,                     # m/s^2, base frame, gravity's reaction included
    "projected_gravity": lambda s: s.gravity_b,                # unit gravity direction, base frame
    "command": lambda s: s.command,                            # vx, vy (m/s), yaw rate (rad/s)
    "joint_pos": lambda s: s.joint_pos - s.default_joint_pos,  # rad, action order
    "joint_vel": lambda s: s.joint_vel,                        # rad/s
    "last_action": lambda s: s.last_action,                    # raw policy output of the last step
    "gait_phase": _gait_phase,                                 # sin, cos of 2 pi (t mod period) / period
}
"""Observation term name -> raw value [size] (the metadata's scale is applied after)."""


class MujocoRobot:
    """The exported policy's robot in MuJoCo (one ``MjData``), stepped at the control rate."""

    def __init__(self, metadata: dict):
        self.meta = metadata
        self.model = model = mujoco.MjModel.from_xml_path(str(model_path(metadata)))
        model.opt.timestep = metadata["physics_dt"]
        self.decimation = int(metadata["decimation"])
        self.control_dt = float(metadata["control_dt"])
        names = metadata["joint_names"]
        found = joints(model, names)
        self.qadr = np.array([j.qposadr[0] for j in found])
        self.vadr = np.array([j.dofadr[0] for j in found])
        self.act = set_pd_servos(model, names, metadata["kp"], metadata["kd"], metadata["effort_limit"])
        self.root_q, self.root_v = root_addresses(model)
        self.default_joint_pos = np.asarray(metadata["default_joint_pos"], dtype=np.float64)
        self.action_scale = float(metadata["action_scale"])
        self.gait_period = metadata["gait_period"]
        self.terms = []
        for term in metadata["observation_terms"]:
            if term["name"] not in OBSERVATION_TERMS:
                raise UserError(f"The policy observes '{term['name']}', which sim2sim cannot build "
                                f"(known: {', '.join(OBSERVATION_TERMS)}).")
            history_length = int(term.get("history_length", 1))  # exports before it was written: 1
            self.terms.append((OBSERVATION_TERMS[term["name"]], int(term["size"]) // history_length, history_length,
                               np.asarray(term["scale"], np.float64)))
        self.data = mujoco.MjData(model)
        self.reset()
        self.start_height = float(self.data.qpos[self.root_q + 2])

    def reset(self) -> None:
        """Base upright and still at the MJCF's start position (height: the metadata's ``default_base_height``
        where present, as training episodes start); joints at the default pose; episode clock 0."""
        d, rq = self.data, self.root_q
        mujoco.mj_resetData(self.model, d)
        if "default_base_height" in self.meta:
            d.qpos[rq + 2] = self.meta["default_base_height"]
        d.qpos[rq + 3:rq + 7] = [1.0, 0.0, 0.0, 0.0]
        d.qpos[self.qadr] = self.default_joint_pos
        d.ctrl[self.act] = self.default_joint_pos
        mujoco.mj_forward(self.model, d)
        self.episode_step = 0
        self.last_action = np.zeros(len(self.qadr))
        self.lin_acc_w = np.zeros(3)
        """Base acceleration over the last control step, world frame (0 at the start)."""
        self.history: list[np.ndarray] | None = None
        """Per term [history_length, size] scaled frames, oldest first; None: the next observation fills them."""
        self.history_step = -1

    @property
    def quat(self) -> np.ndarray:
        return self.data.qpos[self.root_q + 3:self.root_q + 7]

    def base_velocity(self) -> np.ndarray:
        """(vx, vy, yaw rate) [3] in the base frame (m/s, rad/s)."""
        v = self.data.qvel
        lin_b = quat_rotate_inverse(self.quat, v[self.root_v:self.root_v + 3])
        return np.array([lin_b[0], lin_b[1], v[self.root_v + 5]])  # a free joint's angular velocity is in its body frame

    def observation(self, command) -> np.ndarray:
        """The policy observation [1, O] float32 under ``command`` (vx, vy, wz), built from metadata alone: each
        term's last ``history_length`` frames, oldest first (an episode starts with all of them equal to its first
        frame; observing the same control step again replaces the newest)."""
        v = self.data.qvel
        s = RobotState(
            lin_vel_b=quat_rotate_inverse(self.quat, v[self.root_v:self.root_v + 3]),
            ang_vel_b=v[self.root_v + 3:self.root_v + 6],
            lin_acc_b=quat_rotate_inverse(self.quat, self.lin_acc_w - self.model.opt.gravity),
            gravity_b=quat_rotate_inverse(self.quat, np.array([0.0, 0.0, -1.0])),
            command=np.asarray(command, dtype=np.float64),
            joint_pos=self.data.qpos[self.qadr], default_joint_pos=self.default_joint_pos,
            joint_vel=v[self.vadr], last_action=self.last_action,
            episode_time=self.episode_step * self.control_dt, gait_period=self.gait_period)
        frames = []
        for fn, size, _, scale in self.terms:
            value = np.asarray(fn(s), dtype=np.float64)
            if value.shape != (size,):
                raise UserError(f"An observation term has {value.size} values here, the metadata says {size}.")
            frames.append(value * scale)
        if self.history is None:
            self.history = [np.repeat(f[None], n, axis=0) for f, (_, _, n, _) in zip(frames, self.terms)]
        elif self.episode_step != self.history_step:
            self.history = [np.concatenate([h[1:], f[None]]) for h, f in zip(self.history, frames)]
        else:
            for h, f in zip(self.history, frames):
                h[-1] = f
        self.history_step = self.episode_step
        return np.concatenate([h.ravel() for h in self.history]).astype(np.float32)[None]

    def step(self, action: np.ndarray) -> None:
        """Joint targets ``default + action_scale * action`` [J], then ``decimation`` physics steps."""
        self.data.ctrl[self.act] = self.default_joint_pos + self.action_scale * action
        lin_vel_w = self.data.qvel[self.root_v:self.root_v + 3].copy()
        mujoco.mj_step(self.model, self.data, nstep=self.decimation)
        self.lin_acc_w = (self.data.qvel[self.root_v:self.root_v + 3] - lin_vel_w) / self.control_dt
        self.episode_step += 1
        self.last_action = np.array(action, dtype=np.float64)

    def fallen(self) -> bool:
        """Base below ``FALL_HEIGHT_FRACTION`` of its start height, or tilted more than ``FALL_TILT_RAD``."""
        up_z = -quat_rotate_inverse(self.quat, np.array([0.0, 0.0, -1.0]))[2]
        low = self.data.qpos[self.root_q + 2] < FALL_HEIGHT_FRACTION * self.start_height
        return bool(low or up_z < math.cos(FALL_TILT_RAD))

    def base_position(self) -> np.ndarray:
        return self.data.qpos[self.root_q:self.root_q + 3].copy()


def write_video(path: str, frames: list[np.ndarray], fps: float) -> None:
    """H.264 mp4 (imageio + its own ffmpeg)."""
    import imageio.v2 as imageio

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with imageio.get_writer(path, fps=fps, codec="libx264", quality=7, macro_block_size=8) as writer:
        for frame in frames:
            writer.append_data(frame)


# ---------------------------------------------------------------------------------------------- run
def reached_time(command, trace: np.ndarray, dt: float) -> float | None:
    """How fast a policy answers a new command: seconds from a segment's start to the start of the first
    ``REACH_WINDOW_S`` window over which the mean of ``trace`` [T, 3] (vx, vy, yaw rate at control steps ``dt`` s
    apart from the segment's start) is within ``REACH_LIN_TOL`` m/s of the commanded (vx, vy) and
    ``REACH_YAW_TOL`` rad/s of its yaw rate. None when no window is (or the trace is shorter than one window)."""
    width = max(1, round(REACH_WINDOW_S / dt))
    if len(trace) < width:
        return None
    sums = np.cumsum(np.concatenate([np.zeros((1, 3)), trace]), axis=0)
    means = (sums[width:] - sums[:-width]) / width  # [T - width + 1, 3]: windows starting at steps 0, 1, ...
    cmd = np.asarray(command)
    inside = ((np.linalg.norm(means[:, :2] - cmd[:2], axis=1) <= REACH_LIN_TOL)
              & (np.abs(means[:, 2] - cmd[2]) <= REACH_YAW_TOL))
    return float(np.argmax(inside) * dt) if inside.any() else None


def segment_summary(command, measured: np.ndarray, falls: int, settle_steps: int, reached_s: float | None) -> dict:
    """Tracking of one segment from measured (vx, vy, yaw rate) [T, 3], skipping the first ``settle_steps``;
    ``reached_s`` is the segment's :func:`reached_time`.

    A segment with no steps (never reached) has None for its velocity and errors.
    """
    steady = measured[min(settle_steps, len(measured) - 1):]
    cmd = np.asarray(command)
    if len(steady) == 0:
        return {"command": [float(x) for x in cmd], "steps": 0, "mean_velocity": None, "lin_vel_error": None,
                "yaw_rate_error": None, "reached_s": None, "falls": falls}
    return {
        "command": [float(x) for x in cmd],
        "steps": len(steady),
        "mean_velocity": [float(x) for x in steady.mean(axis=0)],
        "lin_vel_error": float(np.linalg.norm(steady[:, :2] - cmd[:2], axis=1).mean()),
        "yaw_rate_error": float(np.abs(steady[:, 2] - cmd[2]).mean()),
        "reached_s": reached_s,
        "falls": falls,
    }


def print_segments(segments: list[dict], title: str) -> None:
    print(title)
    print(f"  {'command (vx, vy, wz)':>24} | {'measured (vx, vy, wz)':>24} | {'|v_xy err|':>10} | {'|wz err|':>8} | "
          f"{'reached':>7} | falls")
    for s in segments:
        c, m = s["command"], s["mean_velocity"]
        if m is None:
            print(f"  {c[0]:+7.2f} {c[1]:+7.2f} {c[2]:+7.2f}  | {'(not reached)':>24} | {'':10} | {'':8} | {'':7} | "
                  f"{s['falls']}")
            continue
        reached = "never" if s["reached_s"] is None else f"{s['reached_s']:.2f} s"
        print(f"  {c[0]:+7.2f} {c[1]:+7.2f} {c[2]:+7.2f}  | {m[0]:+7.2f} {m[1]:+7.2f} {m[2]:+7.2f}  | "
              f"{s['lin_vel_error']:10.3f} | {s['yaw_rate_error']:8.3f} | {reached:>7} | {s['falls']}")
    print(f"  reached: seconds into the segment to the first {REACH_WINDOW_S:g} s whose mean velocity is within "
          f"{REACH_LIN_TOL:g} m/s and {REACH_YAW_TOL:g} rad/s of the command")


def run_sim2sim(onnx_path: str, commands: list[tuple[float, float, float]] | str | None = None, duration: float = 3.0,
                video: str | None = None, settle_s: float = 1.0, video_fps: float = 25.0, width: int = 640,
                height: int = 480) -> dict:
    """Run ``onnx_path`` on each command for ``duration`` seconds; print and return the per-segment tracking.

    Returns ``{"segments": [{command, mean_velocity, lin_vel_error, yaw_rate_error, falls}], "falls",
    "duration_s", "policy_ms_median", "video"}``; velocities are in the base frame, errors are means after
    the first ``settle_s`` of a segment.
    """
    if not isinstance(commands, list):
        commands = parse_commands(commands)
    if not duration > 0:
        raise UserError(f"--duration must be positive (seconds per command), got {duration}.")
    session = load_session(onnx_path)
    meta = _decode_metadata(session, onnx_path)
    for cmd in commands:
        for name, value, (lo, hi) in zip(meta["command_names"], cmd, meta["command_ranges"]):
            if not lo <= value <= hi:
                print(f"note: command {name}={value} is outside the training range [{lo}, {hi}].")
    robot = MujocoRobot(meta)
    if robot.observation(commands[0]).shape[1] != meta["obs_dim"]:
        raise UserError(f"The observation terms total {robot.observation(commands[0]).shape[1]} values, "
                        f"the policy takes {meta['obs_dim']}.")
    control_dt = robot.control_dt
    steps = max(1, round(duration / control_dt))
    frame_every = max(1, round(1.0 / (video_fps * control_dt)))
    recorder = FrameRecorder(robot.model, width, height) if video else None
    frames, segments, latencies = [], [], []
    for command in commands:
        measured, falls = [], 0
        for _ in range(steps):
            obs = robot.observation(command)
            start = time.perf_counter()
            (action,) = session.run(None, {"obs": obs})
            latencies.append(time.perf_counter() - start)
            robot.step(action[0].astype(np.float64))
            measured.append(robot.base_velocity())
            if recorder and robot.episode_step % frame_every == 0:
                frames.append(recorder.frame(robot.data, robot.base_position()))
            if robot.fallen():
                falls += 1
                robot.reset()
        trace = np.array(measured)  # [steps, 3]
        segments.append(segment_summary(command, trace, falls, round(settle_s / control_dt),
                                        reached_time(command, trace, control_dt)))
    if recorder:
        recorder.close()
        write_video(video, frames, fps=1.0 / (frame_every * control_dt))
    result = {
        "policy": os.path.abspath(onnx_path),
        "task": meta["task"],
        "policy_type": meta["policy_type"],
        "flow_steps": meta.get("flow_steps"),
        "segments": segments,
        "falls": sum(s["falls"] for s in segments),
        "duration_s": steps * control_dt * len(commands),
        "policy_ms_median": 1e3 * float(np.median(latencies)),
        "video": os.path.abspath(video) if video else None,
    }
    sampler = f"flow K={meta['flow_steps']}" if meta["policy_type"] == "flow" else "Gaussian mean"
    print_segments(segments, f"sim2sim {onnx_path} ({meta['task']} {meta['algo'].upper()}, {sampler}, MuJoCo, onnxruntime; "
                             f"{duration:g} s per command, errors after {settle_s:g} s):")
    print(f"  falls: {result['falls']}; policy inference median {result['policy_ms_median']:.2f} ms "
          f"(control period {1e3 * control_dt:.0f} ms)" + (f"; video: {video}" if video else ""))
    return result
