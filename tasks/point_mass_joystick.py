"""``point-mass-joystick``: a 2-D point mass that must follow a commanded velocity (a joystick in miniature).

Dynamics ``v' = v + dt * (gain * clip(a, -1, 1) - drag * v)``; the command (vx, vy) is resampled every
``resample_steps`` and episodes time out after ``episode_steps`` (so GAE sees time-outs and resets).
Reward ``exp(-|v - v_cmd|^2 / sigma^2) - action_cost * |a|^2``; the metric is the mean tracking error.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from fpo_locomotion.config import TrainConfig


@dataclass
class PointMassConfig:
    dt: float = 0.05
    gain: float = 4.0
    drag: float = 1.0
    command_range: float = 1.0
    """Commands are uniform in [-command_range, command_range]^2 (m/s)."""
    resample_steps: int = 50
    episode_steps: int = 150
    tracking_sigma: float = 0.5
    action_cost: float = 0.01


class PointMassJoystickEnv(VecEnv):
    """Batched point masses; ``policy`` obs = [v, v_cmd] [N, 4]; ``critic`` adds the step phase [N, 5]."""

    def __init__(self, cfg: PointMassConfig, num_envs: int, device: str = "cpu", seed: int = 0) -> None:
        self.cfg = cfg
        self.num_envs = num_envs
        self.num_actions = 2
        self.max_episode_length = cfg.episode_steps
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.vel = torch.zeros(num_envs, 2, device=self.device)
        self.command = torch.zeros(num_envs, 2, device=self.device)
        self._reset(torch.arange(num_envs, device=self.device))

    def _uniform(self, n: int, low: float, high: float) -> torch.Tensor:
        return torch.rand(n, 2, generator=self.generator, device=self.device) * (high - low) + low

    def _reset(self, env_ids: torch.Tensor) -> None:
        self.vel[env_ids] = self._uniform(len(env_ids), -0.5, 0.5)
        self.command[env_ids] = self._uniform(len(env_ids), -self.cfg.command_range, self.cfg.command_range)
        self.episode_length_buf[env_ids] = 0

    def get_observations(self) -> TensorDict:
        policy = torch.cat([self.vel, self.command], dim=-1)
        phase = (self.episode_length_buf.float() / self.max_episode_length).unsqueeze(-1)
        return TensorDict({"policy": policy, "critic": torch.cat([policy, phase], dim=-1)},
                          batch_size=[self.num_envs], device=self.device)

    def tracking_error(self) -> torch.Tensor:
        """|v - v_cmd| [N] (m/s)."""
        return (self.vel - self.command).norm(dim=-1)

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        a = actions.clamp(-1.0, 1.0)
        self.vel += self.cfg.dt * (self.cfg.gain * a - self.cfg.drag * self.vel)
        error = self.tracking_error()
        rewards = torch.exp(-error.pow(2) / self.cfg.tracking_sigma**2) - self.cfg.action_cost * a.pow(2).sum(-1)
        self.episode_length_buf += 1
        resample = (self.episode_length_buf % self.cfg.resample_steps == 0).nonzero().squeeze(-1)
        self.command[resample] = self._uniform(len(resample), -self.cfg.command_range, self.cfg.command_range)
        time_outs = self.episode_length_buf >= self.max_episode_length
        self._reset(time_outs.nonzero().squeeze(-1))
        extras = {"time_outs": time_outs.float(), "log": {"Metrics/tracking_error": error.mean().item()}}
        return self.get_observations(), rewards, time_outs.long(), extras


def point_mass_train_config() -> TrainConfig:
    cfg = TrainConfig()
    cfg.runner.num_steps_per_env = 32
    cfg.runner.max_iterations = 150
    for net in (cfg.flow_actor, cfg.gaussian_actor, cfg.critic):
        net.hidden_dims = [64, 64]
    return cfg
