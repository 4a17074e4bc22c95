"""Reward terms of the velocity task: small pure functions ``term(s: VelocityState, c: TermContext, **params) -> [N]``.

``REWARD_TERMS`` started as the legged_gym / unitree_rl_gym G1 recipe and took from Isaac Lab's flat G1 what
makes standing unprofitable (README "What made it walk"): a termination penalty instead of an alive bonus, no
clipping of negative totals, a stepping reward (``feet_air_time``) that only a stepping robot under a moving
command collects, in place of the swing-height penalty. The config (``config.default_rewards``) gives each term
its weight and params; the task multiplies by the control dt and sums. Differences from the recipe:

- ``contact`` (gait agreement): an env commanded to stand (``VelocityState.standing``) is rewarded for keeping both
  feet down instead of for stepping in place on the gait clock. The recipe rewards stepping under a zero
  command, so a "stand" command produces marching; mjlab and Isaac Lab likewise treat standing commands apart
  (their 10% standing envs).
- ``contact_no_vel`` (foot slip) uses the foot body's velocity averaged over the control step (finite
  difference of its position): backends expose foot positions, not foot velocities.
- Contact everywhere means |net foot force| > ``foot_contact_force`` (the recipe mixes |F| and F_z; same on
  flat ground).
- ``hip_pos`` penalizes hip roll/yaw deviation from the default pose (the recipe uses the raw angle; the
  default is 0 there, so the values agree).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from fpo_locomotion.tasks.velocity.state import TermContext, VelocityState


def track_lin_vel_xy(s: VelocityState, c: TermContext, sigma: float = 0.25) -> torch.Tensor:
    """exp(-|v_cmd_xy - v_xy|^2 / sigma), base frame; 1 when the base moves exactly as commanded."""
    error = (s.command[:, :2] - s.lin_vel_b[:, :2]).square().sum(dim=1)
    return torch.exp(error * (-1.0 / sigma))


def track_ang_vel_z(s: VelocityState, c: TermContext, sigma: float = 0.25) -> torch.Tensor:
    """exp(-(yaw_rate_cmd - w_z)^2 / sigma)."""
    error = (s.command[:, 2] - s.ang_vel_b[:, 2]).square()
    return torch.exp(error * (-1.0 / sigma))


def lin_vel_z(s: VelocityState, c: TermContext) -> torch.Tensor:
    """v_z^2 (base frame): bouncing."""
    return s.lin_vel_b[:, 2].square()


def ang_vel_xy(s: VelocityState, c: TermContext) -> torch.Tensor:
    """|w_xy|^2 (base frame): rocking."""
    return s.ang_vel_b[:, :2].square().sum(dim=1)


def orientation(s: VelocityState, c: TermContext) -> torch.Tensor:
    """|g_xy|^2 of the projected gravity: tilt of the base."""
    return s.projected_gravity[:, :2].square().sum(dim=1)


def base_height(s: VelocityState, c: TermContext, target: float) -> torch.Tensor:
    """(z - target)^2 of the base (m; flat floor at z = 0); ``target`` is the robot's standing height."""
    return (s.root_pos[:, 2] - target).square()


def joint_acc(s: VelocityState, c: TermContext) -> torch.Tensor:
    """|dq/dt change per control step / dt|^2."""
    return ((s.joint_vel - s.last_joint_vel) / s.control_dt).square().sum(dim=1)


def joint_vel(s: VelocityState, c: TermContext) -> torch.Tensor:
    """|dq|^2."""
    return s.joint_vel.square().sum(dim=1)


def action_rate(s: VelocityState, c: TermContext) -> torch.Tensor:
    """|a - a_last|^2."""
    return (s.action - s.last_action).square().sum(dim=1)


def torques(s: VelocityState, c: TermContext) -> torch.Tensor:
    """|tau|^2 of the PD torques."""
    return s.joint_torque.square().sum(dim=1)


def joint_pos_limits(s: VelocityState, c: TermContext, soft: float = 0.9) -> torch.Tensor:
    """Sum over joints of the distance (rad) by which q is outside its soft limits: the fraction ``soft`` of each
    joint's range, about its middle."""
    lower, upper = c.soft_joint_limits(soft).unbind(dim=1)
    return ((lower - s.joint_pos).clamp(min=0) + (s.joint_pos - upper).clamp(min=0)).sum(dim=1)


def termination(s: VelocityState, c: TermContext) -> torch.Tensor:
    """1 on the step the robot falls (any of the task's termination terms; not on a time-out)."""
    return s.terminated.float()


def hip_pos(s: VelocityState, c: TermContext, joints: list[str] = ()) -> torch.Tensor:
    """Squared deviation of the ``joints`` (the hip roll and yaw joints) from the default pose: legs stay under
    the body."""
    ids = c.joint_ids(joints)
    return (s.joint_pos[:, ids] - c.default_joint_pos[ids]).square().sum(dim=1)


def contact_no_vel(s: VelocityState, c: TermContext) -> torch.Tensor:
    """Sum over feet in contact of |foot velocity|^2: slipping."""
    return (s.foot_vel.square().sum(dim=2) * s.foot_contact).sum(dim=1)


def feet_air_time(s: VelocityState, c: TermContext, threshold: float = 0.4) -> torch.Tensor:
    """Biped stepping: in single stance, the shorter of the stance foot's contact time and the swing foot's air
    time (s, capped at ``threshold``, half the gait period); 0 in double stance, in flight and under a standing
    command, so a robot that only stands cannot collect it."""
    mode_time = torch.where(s.foot_contact, s.foot_contact_time, s.foot_air_time)   # [N, F]
    single_stance = s.foot_contact.sum(dim=1) == 1
    reward = mode_time.min(dim=1).values.clamp(max=threshold)
    return reward * (single_stance & ~s.standing)


def contact(s: VelocityState, c: TermContext, stance_fraction: float = 0.55) -> torch.Tensor:
    """Number of feet [0..F] whose contact agrees with the gait clock (stance for phase < stance_fraction);
    under a standing command every foot should be down."""
    stance = (s.leg_phase < stance_fraction) | s.standing[:, None]
    return (s.foot_contact == stance).sum(dim=1).float()


REWARD_TERMS: dict[str, Callable[..., torch.Tensor]] = {
    fn.__name__: fn
    for fn in (track_lin_vel_xy, track_ang_vel_z, lin_vel_z, ang_vel_xy, orientation, base_height, joint_acc,
               joint_vel, action_rate, torques, joint_pos_limits, termination, hip_pos, contact_no_vel,
               feet_air_time, contact)
}
"""The built-in reward terms by name (``func`` of an entry of ``env.rewards``)."""
