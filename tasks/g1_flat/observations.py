"""Observation terms of ``G1-Flat``: pure functions ``term(s: G1State, p: ObsParams) -> [N, size]``.

Policy group (47 for the 12-DoF G1, in this order; the ``deploy_metadata`` of the env lists the same
names, sizes and scales, so a robot-side program rebuilds it from raw sensor values):

    base_ang_vel 3 (x0.25) | projected_gravity 3 | command 3 (x2, x2, x0.25) | joint_pos 12 (q - q0) |
    joint_vel 12 (x0.05) | last_action 12 | gait_phase 2 (sin, cos of 2 pi phase of the left leg)

Each term is ``scale * (value + noise)``, the noise U[-n, n] in physical units (``NoiseConfig``) on the
sensed terms only. Critic group: the policy terms without noise, then the privileged terms below.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from fpo_locomotion.tasks.g1_flat.config import NoiseConfig
from fpo_locomotion.tasks.g1_flat.state import G1State


@dataclass
class ObsParams:
    """Constants of the observation terms: the default pose and each env's randomized physics."""

    default_joint_pos: torch.Tensor   # [J]
    friction: torch.Tensor            # [N] floor/robot sliding friction
    added_base_mass: torch.Tensor     # [N] kg


def base_ang_vel(s: G1State, p: ObsParams) -> torch.Tensor:
    return s.ang_vel_b


def projected_gravity(s: G1State, p: ObsParams) -> torch.Tensor:
    return s.projected_gravity


def command(s: G1State, p: ObsParams) -> torch.Tensor:
    return s.command


def joint_pos(s: G1State, p: ObsParams) -> torch.Tensor:
    return s.joint_pos - p.default_joint_pos


def joint_vel(s: G1State, p: ObsParams) -> torch.Tensor:
    return s.joint_vel


def last_action(s: G1State, p: ObsParams) -> torch.Tensor:
    """The action applied in the last control step (0 at an episode's start)."""
    return s.action


def gait_phase(s: G1State, p: ObsParams) -> torch.Tensor:
    """(sin, cos) of 2 pi times the left leg's gait phase."""
    angle = 2 * math.pi * s.leg_phase[:, 0]
    return torch.stack([torch.sin(angle), torch.cos(angle)], dim=1)


def base_lin_vel(s: G1State, p: ObsParams) -> torch.Tensor:
    return s.lin_vel_b


def base_height(s: G1State, p: ObsParams) -> torch.Tensor:
    return s.root_pos[:, 2:3]


def foot_height(s: G1State, p: ObsParams) -> torch.Tensor:
    return s.foot_pos[:, :, 2]


def foot_contact_force(s: G1State, p: ObsParams) -> torch.Tensor:
    return s.foot_contact_force.flatten(1)


def friction(s: G1State, p: ObsParams) -> torch.Tensor:
    return p.friction[:, None]


def added_base_mass(s: G1State, p: ObsParams) -> torch.Tensor:
    return p.added_base_mass[:, None]


@dataclass(frozen=True)
class ObsTerm:
    fn: Callable[[G1State, ObsParams], torch.Tensor]
    scale: float | tuple[float, ...]
    noise: bool = False
    """Noisy in the policy group (by ``NoiseConfig.<term name>``)."""
    unit: str = ""
    definition: str = ""
    """What the value is, for a robot-side program (export metadata): formula, frame, body, sign convention."""


POLICY_TERMS: dict[str, ObsTerm] = {
    "base_ang_vel": ObsTerm(base_ang_vel, 0.25, noise=True, unit="rad/s", definition=(
        "angular velocity of the pelvis (the IMU body) in the pelvis frame (x forward, y left, z up), "
        "(wx, wy, wz); a counter-clockwise turn seen from above is wz > 0")),
    "projected_gravity": ObsTerm(projected_gravity, 1.0, noise=True, unit="1", definition=(
        "unit vector of gravity's direction (down) in the pelvis frame: R^T (0, 0, -1) with R the pelvis "
        "orientation (world from pelvis); (0, 0, -1) when upright, +x when pitched nose-down")),
    "command": ObsTerm(command, (2.0, 2.0, 0.25), unit="m/s, m/s, rad/s", definition=(
        "the joystick command (vx, vy, yaw rate): commanded pelvis velocity in the pelvis frame "
        "(x forward, y left), yaw rate counter-clockwise; see 'commands'")),
    "joint_pos": ObsTerm(joint_pos, 1.0, noise=True, unit="rad", definition=(
        "joint angle minus default_joint_pos, per joint in joint_names order (relative, not absolute)")),
    "joint_vel": ObsTerm(joint_vel, 0.05, noise=True, unit="rad/s", definition=(
        "joint velocity, per joint in joint_names order")),
    "last_action": ObsTerm(last_action, 1.0, unit="1", definition=(
        "the policy's previous output (raw, before action_scale), 0 at the start")),
    "gait_phase": ObsTerm(gait_phase, 1.0, unit="1", definition=(
        "(sin(2 pi phi), cos(2 pi phi)) in this order, phi = the left leg's gait phase in [0, 1); see "
        "'gait_clock'")),
}

PRIVILEGED_TERMS: dict[str, ObsTerm] = {
    "base_lin_vel": ObsTerm(base_lin_vel, 2.0),
    "base_height": ObsTerm(base_height, 1.0),
    "foot_height": ObsTerm(foot_height, 1.0),
    "foot_contact_force": ObsTerm(foot_contact_force, 0.005),
    "friction": ObsTerm(friction, 1.0),
    "added_base_mass": ObsTerm(added_base_mass, 1.0),
}
"""Critic-only terms (after the noise-free policy terms)."""


class Observations:
    """Builds the ``policy`` [N, P] and ``critic`` [N, P + C] groups with one concat, noise draw and scale each.

    Term sizes are measured once on a state ``s`` of the task.
    """

    def __init__(self, noise: NoiseConfig, s: G1State, p: ObsParams, generator: torch.Generator):
        self.generator = generator
        self.layout = [
            {"name": name, "size": int(term.fn(s, p).shape[1]), "scale": _json_scale(term.scale), "unit": term.unit,
             "definition": term.definition,
             "training_noise": float(getattr(noise, name)) if term.noise and noise.enabled else 0.0}
            for name, term in POLICY_TERMS.items()
        ]
        """Policy terms in order: name, size, scale (obs = scale * value), unit and definition of the value,
        and the uniform noise U[-n, n] (in ``unit``, before the scale) training added at full disturbance."""
        device = s.root_pos.device
        sizes = [entry["size"] for entry in self.layout]
        self.policy_scale = _expand([t.scale for t in POLICY_TERMS.values()], sizes, device)   # [P]
        noise_per_term = [getattr(noise, name) if term.noise and noise.enabled else 0.0
                          for name, term in POLICY_TERMS.items()]
        self.noise_scale = _expand(noise_per_term, sizes, device) * self.policy_scale  # [P], in scaled units
        self.has_noise = bool(self.noise_scale.any())
        self.noise_level = 0.0
        """Multiplies the noise (the task's disturbance level, 0..1)."""
        privileged_sizes = [int(t.fn(s, p).shape[1]) for t in PRIVILEGED_TERMS.values()]
        self.privileged_scale = _expand([t.scale for t in PRIVILEGED_TERMS.values()], privileged_sizes, device)

    def compute(self, s: G1State, p: ObsParams) -> dict[str, torch.Tensor]:
        """{"policy": [N, P], "critic": [N, P + C]}."""
        clean = torch.cat([term.fn(s, p) for term in POLICY_TERMS.values()], dim=1) * self.policy_scale
        policy = clean
        if self.has_noise and self.noise_level > 0:
            uniform = torch.rand(clean.shape, generator=self.generator, device=clean.device)
            policy = clean + (2 * uniform - 1) * (self.noise_scale * self.noise_level)
        privileged = torch.cat([term.fn(s, p) for term in PRIVILEGED_TERMS.values()], dim=1) * self.privileged_scale
        return {"policy": policy, "critic": torch.cat([clean, privileged], dim=1)}


def _json_scale(scale: float | tuple[float, ...]) -> float | list[float]:
    return list(scale) if isinstance(scale, tuple) else float(scale)


def _expand(scales: list, sizes: list[int], device: torch.device) -> torch.Tensor:
    """Per-term scales (a float or one per element) -> one per observation element [sum(sizes)]."""
    parts = [torch.tensor(sc, dtype=torch.float32).expand(n) if not isinstance(sc, tuple)
             else torch.tensor(sc, dtype=torch.float32) for sc, n in zip(scales, sizes)]
    return torch.cat(parts).to(device)
