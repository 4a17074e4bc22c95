"""``bandit-1d``: one-step episodes, 1-D action, a reward of separated Gaussian bumps of unequal width and height.

The task behind ``fpo-loco viz-flow``: with one action dimension the whole flow of a policy, from noise at
t=0 to actions at t=1, fits in one picture. Reward ``max_k h_k * exp(-(a - c_k)^2 / (2 * w_k^2))``.
Every step ends the episode; the observation is a constant.

Mode tracking: a sample within ``mode_radius`` widths of a bump's centre is in that mode. Each step logs
``Metrics/mode_<k>`` (share of samples in mode k) and ``Metrics/off_mode`` (share in none) to tensorboard,
so that drift of mode weights over training shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from fpo_locomotion.errors import ConfigError
from fpo_locomotion.tasks.one_step_bandit import OneStepBanditEnv


@dataclass
class Bandit1DConfig:
    centers: list[float] = field(default_factory=lambda: [-1.5, 0.0, 1.5])
    """Bump centres (action units), left to right."""
    widths: list[float] = field(default_factory=lambda: [0.3, 0.2, 0.25])
    """Bump standard deviations, one per centre."""
    heights: list[float] = field(default_factory=lambda: [0.8, 1.0, 0.9])
    """Bump peak rewards, one per centre."""
    mode_radius: float = 2.0
    """A sample within ``mode_radius * width`` of a centre counts as in that mode (the bumps must not overlap)."""


class Bandit1DEnv(OneStepBanditEnv):
    """Batched one-step 1-D bandit; observations ``policy`` and ``critic`` are ones [N, 1]. M = number of bumps."""

    def __init__(self, cfg: Bandit1DConfig, num_envs: int, device: str = "cpu", seed: int = 0) -> None:
        if not len(cfg.centers) == len(cfg.widths) == len(cfg.heights) > 0:
            raise ConfigError(f"bandit-1d: centers, widths and heights need one entry per bump, got "
                              f"{len(cfg.centers)}, {len(cfg.widths)} and {len(cfg.heights)}.")
        if min(cfg.widths) <= 0:
            raise ConfigError(f"bandit-1d: widths must be positive, got {cfg.widths}.")
        super().__init__(num_envs, num_actions=1, device=device)
        self.cfg = cfg
        self.centers = torch.tensor(cfg.centers, device=self.device)  # [M]
        self.widths = torch.tensor(cfg.widths, device=self.device)  # [M]
        self.heights = torch.tensor(cfg.heights, device=self.device)  # [M]

    def reward(self, actions: torch.Tensor) -> torch.Tensor:
        """Reward [N] of actions [N, 1]: the highest bump at each action."""
        bumps = self.heights * torch.exp(-(actions - self.centers).pow(2) / (2 * self.widths.pow(2)))  # [N, M]
        return bumps.max(dim=-1).values

    def mode_index(self, actions: torch.Tensor) -> torch.Tensor:
        """Mode [N] (long) of actions [N, 1]: the bump within ``mode_radius`` widths of the action, -1 for none."""
        near = (actions - self.centers).abs() < self.cfg.mode_radius * self.widths  # [N, M]
        return torch.where(near.any(dim=-1), near.float().argmax(dim=-1), -1)

    def mode_shares(self, actions: torch.Tensor) -> tuple[list[float], float]:
        """Shares of actions [N, 1] in each mode ([M] floats) and in none (off-mode)."""
        index = self.mode_index(actions)
        shares = [(index == k).float().mean().item() for k in range(len(self.centers))]
        return shares, (index < 0).float().mean().item()

    def metrics(self, actions: torch.Tensor) -> dict[str, float]:
        shares, off_mode = self.mode_shares(actions)
        return {**{f"Metrics/mode_{k}": share for k, share in enumerate(shares)}, "Metrics/off_mode": off_mode}
