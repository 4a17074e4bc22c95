"""The shared part of the bandit tasks: batched one-step episodes with a constant observation.

A subclass gives ``reward(actions [N, A]) -> [N]`` and ``metrics(actions) -> {"Metrics/<name>": float}``
(logged to tensorboard every step, e.g. the share of samples in each reward mode).
"""

from __future__ import annotations

import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict


class OneStepBanditEnv(VecEnv):
    """Every step ends the episode; observations ``policy`` and ``critic`` are ones [N, 1]."""

    def __init__(self, num_envs: int, num_actions: int, device: str = "cpu") -> None:
        self.num_envs = num_envs
        self.num_actions = num_actions
        self.max_episode_length = 1
        self.device = torch.device(device)
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long, device=self.device)

    def get_observations(self) -> TensorDict:
        ones = torch.ones(self.num_envs, 1, device=self.device)
        return TensorDict({"policy": ones, "critic": ones.clone()}, batch_size=[self.num_envs], device=self.device)

    def reward(self, actions: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def metrics(self, actions: torch.Tensor) -> dict[str, float]:
        raise NotImplementedError

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        extras = {"time_outs": torch.zeros(self.num_envs, device=self.device), "log": self.metrics(actions)}
        dones = torch.ones(self.num_envs, dtype=torch.long, device=self.device)
        return self.get_observations(), self.reward(actions), dones, extras
