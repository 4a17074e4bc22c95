"""The batched state that the reward and termination terms read, and the small geometry they share.

N envs, J joints, F feet (left, right). Quaternions are (w, x, y, z). All tensors float32 unless noted.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from fpo_locomotion.envs.rotations import IDENTITY, ROTATION_FORM
from fpo_locomotion.errors import ConfigError


@dataclass
class VelocityState:
    """One control step of N envs, as seen by the observation, reward and termination terms."""

    root_pos: torch.Tensor            # [N, 3] world frame
    root_quat: torch.Tensor           # [N, 4]
    lin_vel_b: torch.Tensor           # [N, 3] base linear velocity, base frame
    ang_vel_b: torch.Tensor           # [N, 3] base angular velocity, base frame
    lin_acc_w: torch.Tensor           # [N, 3] base linear acceleration, world frame: the change of the base's world
                                      # velocity over the last control step / control dt (0 after a reset)
    projected_gravity: torch.Tensor   # [N, 3] unit gravity direction, base frame
    joint_pos: torch.Tensor           # [N, J]
    joint_vel: torch.Tensor           # [N, J]
    last_joint_vel: torch.Tensor      # [N, J] joint_vel one control step earlier
    joint_torque: torch.Tensor        # [N, J]
    action: torch.Tensor              # [N, J] the action of this step
    last_action: torch.Tensor         # [N, J] the action of the step before (0 after a reset)
    command: torch.Tensor             # [N, 3] (vx, vy, yaw rate) the step was taken under
    foot_pos: torch.Tensor            # [N, F, 3] foot bodies (the robot's ``RobotSpec.foot_body_names``), world frame
    foot_vel: torch.Tensor            # [N, F, 3] (foot_pos - foot_pos one step earlier) / control dt
    foot_contact_force: torch.Tensor  # [N, F, 3] net contact force on each foot, world frame
    foot_contact: torch.Tensor        # [N, F] bool, net contact force above the threshold
    foot_air_time: torch.Tensor       # [N, F] s since the foot left the floor (0 while in contact)
    foot_contact_time: torch.Tensor   # [N, F] s since the foot touched down (0 while in the air)
    base_contact: torch.Tensor        # [N] bool, a body other than the feet touches the floor
    leg_phase: torch.Tensor           # [N, F] gait phase in [0, 1) of each leg
    standing: torch.Tensor            # [N] bool, |command| < ``commands.standing_command``: commanded to stand
    control_dt: float
    terminated: torch.Tensor | None = None
    """[N] bool, any termination term fired on this step (set by the task before it computes the rewards)."""


@dataclass
class TermContext:
    """Constants of the robot that reward and termination terms read (J joints)."""

    joint_names: list[str]            # [J] in action order
    default_joint_pos: torch.Tensor   # [J]
    joint_limits: torch.Tensor        # [J, 2] (lower, upper) of the MJCF joint ranges
    _cache: dict = field(default_factory=dict, init=False, repr=False)
    """Derived constants, computed once per argument: the terms' hot path only looks them up."""

    def joint_ids(self, names: list[str]) -> torch.Tensor:
        """[K] int64 indices of the joints ``names`` (looked up once per list of names)."""
        key = ("joint_ids", *names)
        if key not in self._cache:
            unknown = [n for n in names if n not in self.joint_names]
            if unknown:
                raise ConfigError(f"Unknown joint(s) {unknown}. The robot's joints: {', '.join(self.joint_names)}.")
            self._cache[key] = torch.tensor([self.joint_names.index(n) for n in names], device=self.default_joint_pos.device)
        return self._cache[key]

    def soft_joint_limits(self, soft: float) -> torch.Tensor:
        """[J, 2] (lower, upper): the fraction ``soft`` of each joint's range, about its middle (computed once)."""
        key = ("soft_joint_limits", soft)
        if key not in self._cache:
            middle, half = self.joint_limits.mean(dim=1), 0.5 * (self.joint_limits[:, 1] - self.joint_limits[:, 0]) * soft
            self._cache[key] = torch.stack([middle - half, middle + half], dim=1)
        return self._cache[key]


# Each quantity below is a few entries of the base's rotation matrix R, i.e. one matmul of the quaternion's 16
# products with columns of ``ROTATION_FORM`` plus the identity's entries: 3 tensor ops instead of ~15 elementwise
# ones (the task's cost is the number of small ops).
_QUADRATIC_FORMS = {  # name: (offset [K], coefficients [16, K])
    # g_b = R^T (0, 0, -1) = -(R's third row)
    "gravity": (-IDENTITY[2], -ROTATION_FORM[:, 6:9]),
    # R e_x on the floor plane: (R_00, R_10)
    "heading": (IDENTITY[:2, 0], ROTATION_FORM[:, [0, 3]]),
}


@functools.lru_cache
def _quadratic_form(name: str, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(offset [K], coefficients [16, K]) of the quadratic form ``name`` as tensors."""
    offset, matrix = _QUADRATIC_FORMS[name]
    return (torch.tensor(offset, dtype=dtype, device=device),
            torch.tensor(np.ascontiguousarray(matrix), dtype=dtype, device=device))


def _quat_quadratic(quat: torch.Tensor, name: str) -> torch.Tensor:
    """The quadratic form ``name`` [N, K] of ``quat`` [N, 4]."""
    offset, matrix = _quadratic_form(name, quat.dtype, quat.device)
    return torch.addmm(offset, (quat[:, :, None] * quat[:, None, :]).flatten(1), matrix)


def projected_gravity(quat: torch.Tensor) -> torch.Tensor:
    """Unit gravity direction (0, 0, -1) in the base frame [N, 3] from base orientations ``quat`` [N, 4]."""
    return _quat_quadratic(quat, "gravity")


def yaw_from_quat(quat: torch.Tensor) -> torch.Tensor:
    """Heading (yaw about world z, rad) [N] of base orientations ``quat`` [N, 4]."""
    heading = _quat_quadratic(quat, "heading")
    return torch.atan2(heading[:, 1], heading[:, 0])


def wrap_to_pi(angle: torch.Tensor) -> torch.Tensor:
    """``angle`` wrapped into [-pi, pi)."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


LEG_OFFSETS = (0.0, 0.5)
"""Gait phase offsets of the (left, right) legs, in periods."""


@functools.lru_cache
def _leg_offsets(device: torch.device) -> torch.Tensor:
    return torch.tensor(LEG_OFFSETS, dtype=torch.float64, device=device)


def leg_phase(episode_length: torch.Tensor, control_dt: float, period: float) -> torch.Tensor:
    """Gait phase in [0, 1) [N, 2] of (left, right) legs at episode step ``episode_length`` [N] (int).

    Left: (t mod period) / period with t = episode_length * control_dt; the right leg lags by half a period.
    Cycles are counted in float64; the remainder is taken in float32 so that it never rounds up to 1.
    """
    cycles = episode_length.double()[:, None] * (control_dt / period) + _leg_offsets(episode_length.device)
    return torch.remainder(cycles.float(), 1.0)
