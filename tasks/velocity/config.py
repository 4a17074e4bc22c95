"""Configuration of the joystick velocity task (any legged robot of ``fpo_locomotion.envs.robots``, flat floor).

A robot's task is a subclass of :class:`VelocityEnvConfig` that names its robot and gives the robot's
numbers (``tasks/g1_flat/config.py``: the G1's base height, hip joints). ``velocity_play`` turns a config into
its Play variant: a fixed command schedule and no noise, randomization or pushes. Every field can be
overridden with ``--set env.<section>.<field>=value``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fpo_locomotion.tasks.terms import EventTermConfig, ObsTermConfig, RewardTermConfig, TermConfig


@dataclass
class CommandsConfig:
    """Joystick commands (vx, vy in the base frame, m/s; yaw rate, rad/s), resampled per env."""

    lin_vel_x: tuple[float, float] = field(default_factory=lambda: [-0.6, 1.1])
    lin_vel_y: tuple[float, float] = field(default_factory=lambda: [-0.6, 0.6])
    ang_vel_yaw: tuple[float, float] = field(default_factory=lambda: [-1.1, 1.1])
    """Range of the yaw-rate command; heading mode clips its yaw rate to it too."""
    heading: tuple[float, float] = field(default_factory=lambda: [-math.pi, math.pi])
    rel_heading_envs: float = 0.0
    """Fraction of the moving envs in heading mode: yaw rate = clip(heading_stiffness * (heading - yaw))."""
    heading_stiffness: float = 0.5
    rel_standing_envs: float = 0.1
    """Fraction of envs commanded to stand still (all three commands 0)."""
    rel_zero_axis: float = 0.0
    """Chance that each of vx, vy and yaw rate is set to 0 on its own at a draw: more pure forward, side-step and
    turn-in-place commands (0.5 with rel_standing_envs 0: ~20% stand, ~20% turn in place, ~8% side-step, ~9%
    walk straight; 0: ~10% stand, ~6% turn in place, no pure side-step or straight walk)."""
    min_lin_vel: float = 0.2
    """A sampled |(vx, vy)| at or below this becomes 0 (legged_gym)."""
    standing_command: float = 0.1
    """An env whose |command| is below this is commanded to stand (gait rewards expect both feet down)."""
    resampling_time_s: float = 10.0
    schedule: list[list[float]] = field(default_factory=list)
    """If not empty: rows [duration_s, vx, vy, yaw_rate], played in a loop from each episode's start, the same
    for every env, instead of random sampling (``G1-Flat-Play``)."""


def _obs(name: str, scale: float | list[float] = 1.0, noise: float = 0.0) -> ObsTermConfig:
    return ObsTermConfig(func=name, scale=scale, noise=noise)


@dataclass
class ObservationsConfig:
    """Observation terms (``observations.py``) as ``{func, scale, noise, params}`` entries, in order."""

    policy: dict[str, ObsTermConfig] = field(default_factory=lambda: {
        "base_ang_vel": _obs("base_ang_vel", 0.25, noise=0.2),
        "projected_gravity": _obs("projected_gravity", 1.0, noise=0.05),
        "command": _obs("command", [2.0, 2.0, 0.25]),
        "joint_pos": _obs("joint_pos", 1.0, noise=0.01),
        "joint_vel": _obs("joint_vel", 0.05, noise=1.5),
        "last_action": _obs("last_action"),
        "gait_phase": _obs("gait_phase"),
    })
    """The actor's (and the robot's) observation; the noise grows with the disturbance level
    (``disturbance_curriculum``)."""
    critic: dict[str, ObsTermConfig] = field(default_factory=lambda: {
        "base_lin_vel": _obs("base_lin_vel", 2.0),
        "base_height": _obs("base_height"),
        "foot_height": _obs("foot_height"),
        "foot_contact_force": _obs("foot_contact_force", 0.005),
        "friction": _obs("friction"),
        "added_base_mass": _obs("added_base_mass"),
    })
    """Privileged terms the critic sees after the policy terms (without their noise)."""
    estimated: dict[str, ObsTermConfig] = field(default_factory=dict)
    """Terms the actor estimates instead of sensing them (concurrent state estimation, e.g. ``base_lin_vel``): the
    env gives their true values (scaled, no noise) as the ``estimated`` group, the flow actor's estimator
    (``train.flow_actor.estimator_hidden_dims``) learns them from the policy group, and the flow sees both. The
    robot does not measure them: ``policy.onnx`` carries the estimator."""
    noise: bool = True
    """Add the policy terms' noise (off in ``G1-Flat-Play``)."""
    history_length: int = 1
    """Frames of each policy term the actor sees (Isaac Lab's ``history_length``): each term becomes its last
    ``history_length`` values, oldest first, then the next term (term-major). An episode starts with every frame
    equal to its first observation. The critic sees the current frame only."""


@dataclass
class ResetConfig:
    """Initial state of an episode: default pose and height, perturbed."""

    joint_pos_scale: tuple[float, float] = field(default_factory=lambda: [0.5, 1.5])
    """Joint positions are q0 * U[lo, hi] per joint (legged_gym; joints with q0 = 0 start at 0)."""
    root_vel: float = 0.5
    """Each of the 6 base velocity components starts at U[-root_vel, root_vel] (m/s, rad/s)."""
    random_yaw: bool = True
    """Base yaw U[-pi, pi] (else 0)."""


def _builtin(name: str, weight: float, **params) -> RewardTermConfig:
    return RewardTermConfig(func=name, weight=weight, params=params)


def velocity_rewards(base_height: float, hip_joints: list[str], gait_period: float) -> dict[str, RewardTermConfig]:
    """The reward terms of the velocity task (``rewards.py``), each weighted per second (the task multiplies by
    dt), for a robot whose base stands ``base_height`` m high, whose ``hip_joints`` (roll and yaw) should stay
    near the default pose and which steps with ``gait_period`` (``feet_air_time`` pays up to half of it)."""
    return {
        "track_lin_vel_xy": _builtin("track_lin_vel_xy", 1.0, sigma=0.25),
        "track_ang_vel_z": _builtin("track_ang_vel_z", 0.5, sigma=0.25),
        "lin_vel_z": _builtin("lin_vel_z", -2.0),
        "ang_vel_xy": _builtin("ang_vel_xy", -0.05),
        "orientation": _builtin("orientation", -1.0),
        "base_height": _builtin("base_height", -10.0, target=base_height),
        "joint_acc": _builtin("joint_acc", -2.5e-7),
        "joint_vel": _builtin("joint_vel", -1e-3),
        "action_rate": _builtin("action_rate", -0.01),
        "torques": _builtin("torques", -1e-5),
        "joint_pos_limits": _builtin("joint_pos_limits", -5.0, soft=0.9),
        # Per fall (x dt: -0.5), instead of an alive bonus: a fall costs something, but not so much that lifting a
        # foot is never worth the risk (at Isaac Lab's -200, i.e. -4 per fall, PPO and FPO kept both feet down).
        "termination": _builtin("termination", -25.0),
        "hip_pos": _builtin("hip_pos", -0.5, joints=list(hip_joints)),
        "contact_no_vel": _builtin("contact_no_vel", -0.2),
        "feet_air_time": _builtin("feet_air_time", 2.0, threshold=gait_period / 2),
        # Stepping pays before it moves the robot: with feet_air_time 1.0 and contact 0.18 stepping in place
        # earned ~0.3/s more than standing, less than its penalties, and both PPO and FPO stood with both feet
        # down through 7M / 4.7M env steps (README "What made it walk").
        "contact": _builtin("contact", 0.5, stance_fraction=0.55),
    }


def default_events() -> dict[str, EventTermConfig]:
    """Physics randomization at every episode start and pushes (``events.py``), at their full-disturbance ranges."""
    return {
        "friction": EventTermConfig(func="randomize_friction", params={"range": [0.3, 1.25]}),
        "base_mass": EventTermConfig(func="randomize_base_mass", params={"range": [-1.0, 3.0]}),
        "pd_gains": EventTermConfig(func="randomize_pd_gains", params={"kp_range": [0.9, 1.1], "kd_range": [0.9, 1.1]}),
        "push": EventTermConfig(func="push_robot", mode="interval", interval_s=5.0, params={"max_vel_xy": 0.5}),
    }


def default_terminations() -> dict[str, TermConfig]:
    """The falls that end an episode (``terminations.py``); the time-out (``episode_length_s``) is not one."""
    return {
        "base_contact": TermConfig(func="base_contact"),
        "bad_orientation": TermConfig(func="bad_orientation", params={"max_roll": 0.8, "max_pitch": 1.0}),
        "low_base_height": TermConfig(func="low_base_height", params={"min_height": 0.4}),
    }


@dataclass
class VelocityEnvConfig:
    """The velocity task's env config; a robot's subclass sets ``robot`` and ``rewards`` (with its numbers)."""

    robot: str = ""
    """A robot of ``fpo_locomotion.envs.robots.ROBOTS`` (``register_robot`` adds yours)."""
    backend: str = "mujoco"
    """Physics backend: "mujoco" (CPU) or "mjwarp" (GPU, ``pip install ".[gpu]"``)."""
    num_threads: int = 0
    """CPU threads of the mujoco backend; 0 uses every core."""
    profile_steps: bool = False
    """On a GPU, log ``Perf/physics_ms`` and ``Perf/task_ms`` every env step (two device synchronizations per step);
    the CPU logs them always."""
    physics_dt: float = 0.005
    decimation: int = 4
    episode_length_s: float = 20.0
    action_scale: float = 0.25
    """Joint target q* = q0 + action_scale * action."""
    gait_period: float = 0.8
    """Period (s) of the gait clock in the observation and the ``contact`` reward; the right leg lags by half.
    ``feet_air_time``'s ``threshold`` is its own param (``velocity_rewards`` sets half the period): change both."""
    commands: CommandsConfig = field(default_factory=CommandsConfig)
    observations: ObservationsConfig = field(default_factory=ObservationsConfig)
    disturbance_curriculum: tuple[int, int] = field(default_factory=lambda: [12000, 24000])
    """Control steps of the env (each env steps once per step; an rsl_rl iteration is ``num_steps_per_env`` of them)
    at which the disturbance level starts to rise from 0 and reaches 1; ``[0, 0]``: full at once. The level scales
    every event's range towards its nominal value and the observation noise."""
    events: dict[str, EventTermConfig] = field(default_factory=default_events)
    """Events by name: ``{func, mode, interval_s, params}`` (``events.py``): randomization at episode starts, pushes."""
    reset: ResetConfig = field(default_factory=ResetConfig)
    foot_contact_force: float = 1.0
    """A foot with a net contact force above this (N) is in contact (rewards)."""
    rewards: dict[str, RewardTermConfig] = field(default_factory=dict)
    """Reward terms by name: ``{func, weight, params}`` (``fpo_locomotion.tasks.terms``)."""
    only_positive_rewards: bool = False
    """Clip the total reward of a step at 0 (legged_gym; off: then a fall would cost nothing)."""
    terminations: dict[str, TermConfig] = field(default_factory=default_terminations)
    """Fall terms by name: ``{func, params}``; any of them ends the episode."""


PLAY_SCHEDULE = [
    [3.0, 0.0, 0.0, 0.0],
    [4.0, 0.5, 0.0, 0.0],
    [3.0, 1.0, 0.0, 0.0],
    [3.0, 0.0, 0.5, 0.0],
    [3.0, 0.0, 0.0, 1.0],
    [4.0, -0.5, 0.0, 0.0],
]
"""Play commands: stand, walk forward slow/fast, sideways, turn in place, backwards (20 s)."""


def velocity_play(cfg: VelocityEnvConfig) -> VelocityEnvConfig:
    """``cfg`` as its Play variant (in place, e.g. ``G1-Flat-Play``): the fixed command schedule, no observation
    noise, no randomization, no pushes, episodes starting in the default pose."""
    cfg.commands.schedule = [list(row) for row in PLAY_SCHEDULE]
    cfg.observations.noise = False
    cfg.events = {}
    cfg.reset.joint_pos_scale = [1.0, 1.0]
    cfg.reset.root_vel = 0.0
    cfg.reset.random_yaw = False
    return cfg
