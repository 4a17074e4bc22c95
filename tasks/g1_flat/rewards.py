"""Reward terms of ``G1-Flat``: small pure functions ``term(s: G1State, p: RewardParams) -> [N]``.

The table ``REWARD_TERMS`` started as the legged_gym / unitree_rl_gym G1 recipe and took from Isaac Lab's
flat G1 what makes standing unprofitable (README "What made it walk"): a termination penalty instead of an
alive bonus, no clipping of negative totals, a stepping reward (``feet_air_time``) that only a stepping robot
under a moving command collects, in place of the swing-height penalty. The task multiplies each term by
its weight (``config.RewardScales``) and the control dt, and sums them. Differences from the recipe:

- ``contact`` (gait agreement): an env commanded to stand (|command| < ``standing_command``) is rewarded
  for keeping both feet down instead of for stepping in place on the gait clock. The recipe rewards
  stepping under a zero command, so a "stand" command produces marching; mjlab and Isaac Lab likewise
  treat standing commands apart (their 10% standing envs).
- ``contact_no_vel`` (foot slip) uses the foot body's velocity averaged over the control step (finite
  difference of its position): backends expose foot positions, not foot velocities.
- Contact everywhere means |net foot force| > ``contact_force`` (the recipe mixes |F| and F_z; same on flat
  ground).
- ``hip_pos`` penalizes hip roll/yaw deviation from the default pose (the recipe uses the raw angle; the
  default is 0 there, so the values agree).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from fpo_locomotion.tasks.g1_flat.config import RewardsConfig, TerminationsConfig
from fpo_locomotion.tasks.g1_flat.state import G1State
from fpo_locomotion.tasks.g1_flat.terminations import TERMINATION_TERMS


@dataclass
class RewardParams:
    """Constants of the reward terms: the config and per-joint figures of the robot."""

    cfg: RewardsConfig
    default_joint_pos: torch.Tensor   # [J]
    soft_joint_limits: torch.Tensor   # [J, 2] (lower, upper), ``soft_joint_pos_limit`` of the hard range
    hip_joint_ids: torch.Tensor       # [H] int64, hip roll and yaw joints
    terminations: TerminationsConfig


def track_lin_vel_xy(s: G1State, p: RewardParams) -> torch.Tensor:
    """exp(-|v_cmd_xy - v_xy|^2 / sigma), base frame; 1 when the base moves exactly as commanded."""
    error = (s.command[:, :2] - s.lin_vel_b[:, :2]).square().sum(dim=1)
    return torch.exp(error * (-1.0 / p.cfg.tracking_sigma))


def track_ang_vel_z(s: G1State, p: RewardParams) -> torch.Tensor:
    """exp(-(yaw_rate_cmd - w_z)^2 / sigma)."""
    error = (s.command[:, 2] - s.ang_vel_b[:, 2]).square()
    return torch.exp(error * (-1.0 / p.cfg.tracking_sigma))


def lin_vel_z(s: G1State, p: RewardParams) -> torch.Tensor:
    """v_z^2 (base frame): bouncing."""
    return s.lin_vel_b[:, 2].square()


def ang_vel_xy(s: G1State, p: RewardParams) -> torch.Tensor:
    """|w_xy|^2 (base frame): rocking."""
    return s.ang_vel_b[:, :2].square().sum(dim=1)


def orientation(s: G1State, p: RewardParams) -> torch.Tensor:
    """|g_xy|^2 of the projected gravity: tilt of the base."""
    return s.projected_gravity[:, :2].square().sum(dim=1)


def base_height(s: G1State, p: RewardParams) -> torch.Tensor:
    """(z - target)^2 of the base (flat floor at z = 0)."""
    return (s.root_pos[:, 2] - p.cfg.base_height_target).square()


def joint_acc(s: G1State, p: RewardParams) -> torch.Tensor:
    """|dq/dt change per control step / dt|^2."""
    return ((s.joint_vel - s.last_joint_vel) / s.control_dt).square().sum(dim=1)


def joint_vel(s: G1State, p: RewardParams) -> torch.Tensor:
    """|dq|^2."""
    return s.joint_vel.square().sum(dim=1)


def action_rate(s: G1State, p: RewardParams) -> torch.Tensor:
    """|a - a_last|^2."""
    return (s.action - s.last_action).square().sum(dim=1)


def torques(s: G1State, p: RewardParams) -> torch.Tensor:
    """|tau|^2 of the PD torques."""
    return s.joint_torque.square().sum(dim=1)


def joint_pos_limits(s: G1State, p: RewardParams) -> torch.Tensor:
    """Sum over joints of the distance (rad) by which q is outside its soft limits."""
    lower, upper = p.soft_joint_limits.unbind(dim=1)
    return ((lower - s.joint_pos).clamp(min=0) + (s.joint_pos - upper).clamp(min=0)).sum(dim=1)


def termination(s: G1State, p: RewardParams) -> torch.Tensor:
    """1 on the step the robot falls (any fall term of ``terminations.py``; not on a time-out)."""
    return torch.stack([fn(s, p.terminations) for fn in TERMINATION_TERMS.values()]).any(dim=0).float()


def hip_pos(s: G1State, p: RewardParams) -> torch.Tensor:
    """Squared deviation of hip roll and yaw from the default pose: legs stay under the body."""
    ids = p.hip_joint_ids
    return (s.joint_pos[:, ids] - p.default_joint_pos[ids]).square().sum(dim=1)


def contact_no_vel(s: G1State, p: RewardParams) -> torch.Tensor:
    """Sum over feet in contact of |foot velocity|^2: slipping."""
    return (s.foot_vel.square().sum(dim=2) * s.foot_contact).sum(dim=1)


def _moving(s: G1State, p: RewardParams) -> torch.Tensor:
    """[N] bool: the env is commanded to move (|command| >= ``standing_command``)."""
    return s.command.square().sum(dim=1) >= p.cfg.standing_command**2


def feet_air_time(s: G1State, p: RewardParams) -> torch.Tensor:
    """Biped stepping: in single stance, the shorter of the stance foot's contact time and the swing foot's air
    time (s, capped at ``feet_air_time_threshold``); 0 in double stance, in flight and under a standing
    command, so a robot that only stands cannot collect it."""
    mode_time = torch.where(s.foot_contact, s.foot_contact_time, s.foot_air_time)   # [N, F]
    single_stance = s.foot_contact.sum(dim=1) == 1
    reward = mode_time.min(dim=1).values.clamp(max=p.cfg.feet_air_time_threshold)
    return reward * (single_stance & _moving(s, p))


def contact(s: G1State, p: RewardParams) -> torch.Tensor:
    """Number of feet [0..F] whose contact agrees with the gait clock (stance for phase < stance_fraction);
    under a standing command every foot should be down."""
    stance = (s.leg_phase < p.cfg.stance_fraction) | ~_moving(s, p)[:, None]
    return (s.foot_contact == stance).sum(dim=1).float()


REWARD_TERMS: dict[str, Callable[[G1State, RewardParams], torch.Tensor]] = {
    fn.__name__: fn
    for fn in (track_lin_vel_xy, track_ang_vel_z, lin_vel_z, ang_vel_xy, orientation, base_height, joint_acc,
               joint_vel, action_rate, torques, joint_pos_limits, termination, hip_pos, contact_no_vel,
               feet_air_time, contact)
}
"""Every reward term by name; the names are the fields of ``config.RewardScales``."""
