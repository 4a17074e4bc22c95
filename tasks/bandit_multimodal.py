"""``bandit-multimodal`` and its family: one-step episodes, 2-D action, several separated, equally good reward modes.

FPO's signature claim in a picture: a flow policy can put its samples on every mode; a Gaussian policy
cannot (it either picks one mode or spreads over the low-reward space between them).

Reward ``max_i exp(-d_i^2 / (2 width_i^2))``, ``d_i`` the distance to mode ``i``: every mode peaks at 1. A
sample is "in" mode ``i`` when that mode's bump alone pays it at least ``in_mode_reward`` (a quarter of the
peak by default: ``d_i < 1.67 width_i``). Every step ends the episode; the observation is a constant. Copy
this file to write a task of your own (see ``tasks/registry.py``).

``BANDIT_FAMILY``: 3 modes in a row, 4 on a square, 5 on a pentagon (narrow and wide bumps, symmetric), and
2 modes of unequal width placed asymmetrically, for ``fpo-loco bench modes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from fpo_locomotion.config import TrainConfig
from fpo_locomotion.errors import ConfigError
from fpo_locomotion.tasks.one_step_bandit import OneStepBanditEnv


@dataclass
class BanditConfig:
    modes: list[list[float]] = field(default_factory=lambda: [[0.7071, 0.7071], [-0.7071, -0.7071]])
    """Centres (x, y) of the reward modes."""
    widths: list[float] = field(default_factory=lambda: [0.3, 0.3])
    """Reward bandwidth (std of the bump) of each mode."""
    in_mode_reward: float = 0.25
    """A sample is in a mode when that mode's bump pays it at least this (mode statistics)."""


class BanditMultimodalEnv(OneStepBanditEnv):
    """Batched one-step bandit with M modes; observations ``policy`` and ``critic`` are ones [N, 1]."""

    def __init__(self, cfg: BanditConfig, num_envs: int, device: str = "cpu", seed: int = 0) -> None:
        super().__init__(num_envs, num_actions=2, device=device)
        if len(cfg.modes) != len(cfg.widths) or any(len(m) != 2 for m in cfg.modes):
            raise ConfigError(f"env.modes needs one [x, y] per mode and env.widths one width per mode; got "
                              f"{len(cfg.modes)} modes and {len(cfg.widths)} widths.")
        self.cfg = cfg
        self.modes = torch.tensor(cfg.modes, device=self.device)    # [M, 2]
        self.widths = torch.tensor(cfg.widths, device=self.device)  # [M]

    def bumps(self, actions: torch.Tensor) -> torch.Tensor:
        """Reward of each mode's bump [N, M] at actions [N, 2]."""
        return torch.exp(-torch.cdist(actions, self.modes).pow(2) / (2 * self.widths.pow(2)))

    def reward(self, actions: torch.Tensor) -> torch.Tensor:
        """Reward [N] of actions [N, 2]."""
        return self.bumps(actions).max(dim=-1).values

    def mode_shares(self, actions: torch.Tensor) -> tuple[list[float], float]:
        """(share of actions [N, 2] in each mode [M], share in any mode)."""
        inside = self.bumps(actions) >= self.cfg.in_mode_reward  # [N, M]
        return inside.float().mean(dim=0).tolist(), inside.any(dim=-1).float().mean().item()

    def metrics(self, actions: torch.Tensor) -> dict[str, float]:
        shares, in_mode = self.mode_shares(actions)
        return {**{f"Metrics/mode_{i}": share for i, share in enumerate(shares)}, "Metrics/in_mode": in_mode,
                "Metrics/min_mode_share": min(shares)}


def _ring(count: int, radius: float, width: float, start_deg: float) -> BanditConfig:
    angles = [math.radians(start_deg + 360.0 * k / count) for k in range(count)]
    return BanditConfig(modes=[[round(radius * math.cos(a), 4), round(radius * math.sin(a), 4)] for a in angles],
                        widths=[width] * count)


BANDIT_FAMILY = {
    "bandit-row3": lambda: BanditConfig(modes=[[-0.9, 0.0], [0.0, 0.0], [0.9, 0.0]], widths=[0.2] * 3),
    "bandit-square4": lambda: _ring(4, 1.0, 0.25, 45.0),
    "bandit-pentagon5": lambda: _ring(5, 0.9, 0.2, 90.0),
    "bandit-unequal2": lambda: BanditConfig(modes=[[-0.6, 0.3], [0.8, -0.2]], widths=[0.15, 0.4]),
}
"""Name -> config of the multimodal bandits that ``fpo-loco bench modes`` measures mode keeping on."""


def bandit_train_config() -> TrainConfig:
    """Small networks and one-step rollouts; 1024 samples per iteration with 64 envs x 16 steps.

    FPO keeps both modes with the FPO++ defaults (per-sample ratio, ASPO, clip 0.05) plus the flow's
    zero-initialized output layer; lr 1e-3 reaches the modes in 120 iterations, before the random drift
    of mode weights (the expected update is neutral between equal modes, its noise is not) adds up.
    """
    cfg = TrainConfig()
    cfg.runner.num_steps_per_env = 16
    cfg.runner.max_iterations = 120
    cfg.fpo.learning_rate = 1e-3
    cfg.runner.save_interval = 100
    cfg.runner.obs_groups = {"actor": ["policy"], "critic": ["critic"]}
    for net in (cfg.flow_actor, cfg.gaussian_actor, cfg.critic):
        net.hidden_dims = [64, 64]
    cfg.fpo.gamma = cfg.ppo.gamma = 0.0
    cfg.fpo.lam = cfg.ppo.lam = 0.0
    return cfg
