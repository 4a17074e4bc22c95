"""Joystick velocity commands (vx, vy, yaw rate) of N envs: random per env, or a fixed schedule (play)."""

from __future__ import annotations

import torch

from fpo_locomotion.tasks.velocity.config import CommandsConfig
from fpo_locomotion.tasks.velocity.state import wrap_to_pi, yaw_from_quat

COMMAND_NAMES = ["lin_vel_x", "lin_vel_y", "ang_vel_yaw"]


class VelocityCommand:
    """``command`` [N, 3]: base-frame (vx, vy) in m/s and yaw rate in rad/s.

    Random mode (``cfg.schedule`` empty), legged_gym-style: every ``resampling_time_s`` of an env's episode
    (and at its reset) vx, vy, yaw rate and a heading are drawn uniformly; |(vx, vy)| <= ``min_lin_vel``
    becomes 0 (after each axis is zeroed on its own with chance ``rel_zero_axis``); a ``rel_standing_envs``
    fraction gets the zero command; a ``rel_heading_envs`` fraction of the others tracks its heading: every
    step, yaw rate = clip(stiffness * wrap(heading - yaw), yaw range).
    Schedule mode: every env follows ``cfg.schedule`` from its episode start.
    """

    def __init__(self, cfg: CommandsConfig, num_envs: int, control_dt: float, generator: torch.Generator,
                 device: torch.device):
        self.cfg, self.control_dt, self.generator, self.device = cfg, control_dt, generator, device
        self.command = torch.zeros(num_envs, 3, device=device)
        self.heading = torch.zeros(num_envs, device=device)
        self.heading_mode = torch.zeros(num_envs, dtype=torch.bool, device=device)
        self.resampling_steps = max(1, round(cfg.resampling_time_s / control_dt))
        ranges = [cfg.lin_vel_x, cfg.lin_vel_y, cfg.ang_vel_yaw, cfg.heading]
        self._low = torch.tensor([r[0] for r in ranges], device=device)     # [4]
        self._width = torch.tensor([r[1] - r[0] for r in ranges], device=device)
        if cfg.schedule:
            rows = torch.tensor(cfg.schedule, dtype=torch.float64, device=device)  # [S, 4]
            self._schedule_end = rows[:, 0].cumsum(0)                                # [S] seconds
            self._schedule_command = rows[:, 1:].float()                              # [S, 3]

    def ranges(self) -> list[list[float]]:
        """[lo, hi] of each command (the policy's training distribution)."""
        return [list(self.cfg.lin_vel_x), list(self.cfg.lin_vel_y), list(self.cfg.ang_vel_yaw)]

    def resample(self, mask: torch.Tensor) -> None:
        """Draw new commands for the envs where ``mask`` [N] (bool) is set (random mode only)."""
        u = torch.rand(mask.shape[0], 6, generator=self.generator, device=self.device)
        draw = torch.addcmul(self._low, self._width, u[:, :4])  # vx, vy, yaw rate, heading
        if self.cfg.rel_zero_axis > 0:  # drawn only when on: the default's random stream stays as it was
            keep_axis = torch.rand(mask.shape[0], 3, generator=self.generator, device=self.device)
            draw[:, :3] *= keep_axis >= self.cfg.rel_zero_axis
        standing = u[:, 4] < self.cfg.rel_standing_envs
        moving = (draw[:, :2].square().sum(dim=1) > self.cfg.min_lin_vel**2) & ~standing
        keep = torch.stack([moving, moving, ~standing], dim=1)
        self.command.copy_(torch.where(mask[:, None], draw[:, :3] * keep, self.command))
        self.heading.copy_(torch.where(mask, draw[:, 3], self.heading))
        self.heading_mode.copy_(torch.where(mask, (u[:, 5] < self.cfg.rel_heading_envs) & ~standing, self.heading_mode))

    def update(self, episode_length: torch.Tensor, root_quat: torch.Tensor) -> None:
        """Commands after a control step, at episode step ``episode_length`` [N] (int) and base orientation
        ``root_quat`` [N, 4] (w, x, y, z).

        ``command`` is updated in place (it lives as long as the env).
        """
        if self.cfg.schedule:
            t = torch.remainder(episode_length.double() * self.control_dt, self._schedule_end[-1])
            row = torch.searchsorted(self._schedule_end, t, right=True)
            self.command.copy_(self._schedule_command[row])
            return
        due = episode_length % self.resampling_steps == 0
        if due.any():
            self.resample(due)
        heading_error = wrap_to_pi(self.heading - yaw_from_quat(root_quat))
        yaw_rate = (self.cfg.heading_stiffness * heading_error).clamp(*self.cfg.ang_vel_yaw)
        self.command[:, 2] = torch.where(self.heading_mode, yaw_rate, self.command[:, 2])
