"""Observation terms of the velocity task: pure functions ``term(s: VelocityState, p: ObsParams, **params) -> [N, size]``.

The config (``config.ObservationsConfig``) lists them as ``{func, scale, noise, params}`` entries. Policy
group (47 for the 12-DoF G1, in this order; the ``deploy_metadata`` of the env lists the same names, sizes
and scales, so a robot-side program rebuilds it from raw sensor values):

    base_ang_vel 3 (x0.25) | projected_gravity 3 | command 3 (x2, x2, x0.25) | joint_pos 12 (q - q0) |
    joint_vel 12 (x0.05) | last_action 12 | gait_phase 2 (sin, cos of 2 pi phase of the left leg)

Each term is ``scale * (value + noise)``, the noise U[-n, n] in physical units on the sensed terms only,
times the disturbance level. With ``history_length`` H > 1 each policy term is its last H frames, oldest first
(term-major: ``base_ang_vel`` 3H, then ``projected_gravity`` 3H, ...), every frame noised when it was observed.
Critic group: the current frame's policy terms without noise, then the privileged terms. Estimated group (only
when ``estimated`` lists terms): their true values, scaled, without noise, the target of the actor's estimator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from fpo_locomotion.envs.rotations import quat_apply_inverse
from fpo_locomotion.errors import ConfigError
from fpo_locomotion.tasks.terms import ObsTermConfig, bind_terms, resolve_term
from fpo_locomotion.tasks.velocity.config import ObservationsConfig
from fpo_locomotion.tasks.velocity.state import VelocityState

STANDARD_GRAVITY = 9.81
"""m/s^2, MuJoCo's default ``opt.gravity`` magnitude (the G1's MJCF keeps it)."""


@dataclass
class ObsParams:
    """Constants of the observation terms: the default pose and each env's randomized physics."""

    default_joint_pos: torch.Tensor   # [J]
    friction: torch.Tensor            # [N] floor/robot sliding friction
    added_base_mass: torch.Tensor     # [N] kg


def base_ang_vel(s: VelocityState, p: ObsParams) -> torch.Tensor:
    return s.ang_vel_b


def projected_gravity(s: VelocityState, p: ObsParams) -> torch.Tensor:
    return s.projected_gravity


def command(s: VelocityState, p: ObsParams) -> torch.Tensor:
    return s.command


def joint_pos(s: VelocityState, p: ObsParams) -> torch.Tensor:
    return s.joint_pos - p.default_joint_pos


def joint_vel(s: VelocityState, p: ObsParams) -> torch.Tensor:
    return s.joint_vel


def last_action(s: VelocityState, p: ObsParams) -> torch.Tensor:
    """The action applied in the last control step (0 at an episode's start)."""
    return s.action


def gait_phase(s: VelocityState, p: ObsParams) -> torch.Tensor:
    """(sin, cos) of 2 pi times the left leg's gait phase."""
    angle = 2 * math.pi * s.leg_phase[:, 0]
    return torch.stack([torch.sin(angle), torch.cos(angle)], dim=1)


def base_lin_vel(s: VelocityState, p: ObsParams) -> torch.Tensor:
    return s.lin_vel_b


def base_lin_acc(s: VelocityState, p: ObsParams) -> torch.Tensor:
    """What the pelvis IMU's accelerometer measures (specific force: acceleration less gravity), base frame, m/s^2:
    R^T a_w - 9.81 g_b, (0, 0, 9.81) standing still upright; a_w over the last control step."""
    return quat_apply_inverse(s.root_quat, s.lin_acc_w) - STANDARD_GRAVITY * s.projected_gravity


def base_height(s: VelocityState, p: ObsParams) -> torch.Tensor:
    return s.root_pos[:, 2:3]


def foot_height(s: VelocityState, p: ObsParams) -> torch.Tensor:
    return s.foot_pos[:, :, 2]


def foot_contact_force(s: VelocityState, p: ObsParams) -> torch.Tensor:
    return s.foot_contact_force.flatten(1)


def friction(s: VelocityState, p: ObsParams) -> torch.Tensor:
    return p.friction[:, None]


def added_base_mass(s: VelocityState, p: ObsParams) -> torch.Tensor:
    return p.added_base_mass[:, None]


OBS_TERMS: dict[str, Callable[..., torch.Tensor]] = {
    fn.__name__: fn
    for fn in (base_ang_vel, projected_gravity, command, joint_pos, joint_vel, last_action, gait_phase, base_lin_vel,
               base_lin_acc, base_height, foot_height, foot_contact_force, friction, added_base_mass)
}
"""The built-in observation terms by name (``func`` of an entry of ``env.observations.policy`` / ``critic``)."""

DEPLOY_DEFINITIONS: dict[str, tuple[str, str]] = {
    "base_ang_vel": ("rad/s", "angular velocity of the pelvis (the IMU body) in the pelvis frame (x forward, y left, "
                     "z up), (wx, wy, wz); a counter-clockwise turn seen from above is wz > 0"),
    "projected_gravity": ("1", "unit vector of gravity's direction (down) in the pelvis frame: R^T (0, 0, -1) with R "
                          "the pelvis orientation (world from pelvis); (0, 0, -1) when upright, +x when pitched "
                          "nose-down"),
    "command": ("m/s, m/s, rad/s", "the joystick command (vx, vy, yaw rate): commanded pelvis velocity in the pelvis "
                "frame (x forward, y left), yaw rate counter-clockwise; see 'commands'"),
    "joint_pos": ("rad", "joint angle minus default_joint_pos, per joint in joint_names order (relative, not "
                  "absolute)"),
    "joint_vel": ("rad/s", "joint velocity, per joint in joint_names order"),
    "last_action": ("1", "the policy's previous output (raw, before action_scale), 0 at the start"),
    "base_lin_acc": ("m/s^2", "the pelvis IMU's accelerometer: specific force (linear acceleration minus gravity) in "
                     "the pelvis frame, (0, 0, +9.81) when standing still upright, averaged over one control step"),
    "gait_phase": ("1", "(sin(2 pi phi), cos(2 pi phi)) in this order, phi = the left leg's gait phase in [0, 1); "
                   "see 'gait_clock'"),
}
"""(unit, definition) of each built-in policy term for a robot-side program (export metadata): formula, frame,
body, sign convention. A term of your own is described by its docstring."""


class Observations:
    """Builds the ``policy`` [N, H * P], ``critic`` [N, P + C] and (if any terms) ``estimated`` [N, E] groups with
    one concat, noise draw and scale each (P: one frame of the policy terms, H: ``history_length``).

    Term sizes are measured once on a state ``s`` of the task.
    """

    def __init__(self, cfg: ObservationsConfig, s: VelocityState, p: ObsParams, generator: torch.Generator):
        self.generator = generator
        self.history_length = h = cfg.history_length
        if not isinstance(h, int) or h < 1:
            raise ConfigError(f"Config key 'env.observations.history_length': frames per policy term, a positive "
                              f"integer (1: no history), got {h!r}.")
        self.policy_terms = bind_terms(cfg.policy, OBS_TERMS, "env.observations.policy")
        self.critic_terms = bind_terms(cfg.critic, OBS_TERMS, "env.observations.critic")
        self.estimated_terms = bind_terms(cfg.estimated, OBS_TERMS, "env.observations.estimated")
        sizes = [int(fn(s, p).shape[1]) for fn in self.policy_terms.values()]
        noise = [entry.noise if cfg.noise else 0.0 for entry in cfg.policy.values()]
        self.layout = [
            {"name": name, "size": h * size, "history_length": h, "scale": _json_scale(entry.scale), **_deploy(entry),
             "training_noise": float(n)}
            for (name, entry), size, n in zip(cfg.policy.items(), sizes, noise)
        ]
        """Policy terms in order: name, size (``history_length`` frames of the value, oldest first), scale of each
        frame (obs = scale * value), unit and definition of the value, and the uniform noise U[-n, n] (in ``unit``,
        before the scale) training added at full disturbance."""
        device = s.root_pos.device
        self.policy_scale = _expand([entry.scale for entry in cfg.policy.values()], sizes, device)   # [P]
        self.noise_scale = _expand(noise, sizes, device) * self.policy_scale  # [P], in scaled units
        self.has_noise = bool(self.noise_scale.any())
        self.noise_level = 0.0
        """Multiplies the noise (the task's disturbance level, 0..1)."""
        critic_sizes = [int(fn(s, p).shape[1]) for fn in self.critic_terms.values()]
        self.privileged_scale = _expand([entry.scale for entry in cfg.critic.values()], critic_sizes, device)
        estimated_sizes = [int(fn(s, p).shape[1]) for fn in self.estimated_terms.values()]
        self.estimated_scale = _expand([entry.scale for entry in cfg.estimated.values()], estimated_sizes, device)
        self.terms = {
            "policy": [(name, entry.func, size) for (name, entry), size in zip(cfg.policy.items(), sizes)],
            "privileged": [(name, entry.func, size) for (name, entry), size in zip(cfg.critic.items(), critic_sizes)],
            "estimated": [(name, entry.func, size) for (name, entry), size in zip(cfg.estimated.items(),
                                                                                  estimated_sizes)],
        }
        """(name, func, size of one frame) of each term of the policy group, of the privileged part of the critic
        group and of the estimated group."""
        frame, starts = sum(sizes), [sum(sizes[:k]) for k in range(len(sizes))]
        self.term_major = torch.tensor([t * frame + start + i for start, n in zip(starts, sizes) for t in range(h)
                                        for i in range(n)], device=device)
        """[H * P]: position in the frame-major history [H, P] of each element of the policy group."""
        self.history = torch.zeros(s.root_pos.shape[0], h, frame, device=device)  # [N, H, P], oldest first
        self.fresh = torch.ones(s.root_pos.shape[0], dtype=torch.bool, device=device)
        """[N]: the env started an episode since its last observation (its history restarts)."""
        self.history_step = -1
        """The step of the newest frame: observing the same step again replaces it instead of adding one."""

    def compute(self, s: VelocityState, p: ObsParams, step: int) -> dict[str, torch.Tensor]:
        """{"policy": [N, H * P], "critic": [N, P + C]} (and "estimated" [N, E] if any terms) at control step ``step``
        (the policy group's newest frame)."""
        clean = torch.cat([fn(s, p) for fn in self.policy_terms.values()], dim=1) * self.policy_scale
        policy = clean
        if self.has_noise and self.noise_level > 0:
            uniform = torch.rand(clean.shape, generator=self.generator, device=clean.device)
            policy = clean + (2 * uniform - 1) * (self.noise_scale * self.noise_level)
        privileged = torch.cat([fn(s, p) for fn in self.critic_terms.values()], dim=1) * self.privileged_scale
        if self.history_length > 1:
            policy = self._push(policy, step)
        groups = {"policy": policy, "critic": torch.cat([clean, privileged], dim=1)}
        if self.estimated_terms:
            groups["estimated"] = torch.cat([fn(s, p) for fn in self.estimated_terms.values()], dim=1) * self.estimated_scale
        return groups

    def _push(self, frame: torch.Tensor, step: int) -> torch.Tensor:
        """Add ``frame`` [N, P] as the newest of the history (every frame of envs that just started) -> [N, H * P]."""
        if step != self.history_step:
            self.history[:, :-1] = self.history[:, 1:].clone()
            self.history_step = step
        self.history[:, -1] = frame
        self.history.copy_(torch.where(self.fresh[:, None, None], frame[:, None], self.history))
        self.fresh.zero_()
        return self.history.flatten(1)[:, self.term_major]

    @property
    def policy_group_scale(self) -> torch.Tensor:
        """[H * P]: the scale of each element of the policy group."""
        return self.policy_scale[self.term_major % self.policy_scale.numel()]


def _deploy(entry: ObsTermConfig) -> dict[str, str]:
    """{"unit", "definition"} of a policy term: the built-in's, or the first line of a user function's docstring."""
    if entry.func in DEPLOY_DEFINITIONS:
        unit, definition = DEPLOY_DEFINITIONS[entry.func]
        return {"unit": unit, "definition": definition}
    doc = (resolve_term(entry.func, OBS_TERMS, "env.observations.policy").__doc__ or "").strip()
    return {"unit": "", "definition": doc.splitlines()[0] if doc else ""}


def _json_scale(scale: float | list[float]) -> float | list[float]:
    return [float(x) for x in scale] if isinstance(scale, list) else float(scale)


def _expand(scales: list, sizes: list[int], device: torch.device) -> torch.Tensor:
    """Per-term scales (a float or one per element) -> one per observation element [sum(sizes)] (no terms: [0])."""
    parts = [torch.tensor(sc, dtype=torch.float32).expand(n) if not isinstance(sc, list)
             else torch.tensor(sc, dtype=torch.float32) for sc, n in zip(scales, sizes)]
    return torch.cat(parts).to(device) if parts else torch.zeros(0, device=device)
