"""``bandit-multimodal``: one-step episodes, 2-D action, two separated and equally good reward modes.

FPO's signature claim in a picture: a flow policy can put its samples on both modes; a Gaussian
policy cannot (it either picks one mode or spreads over the low-reward middle).

Reward ``exp(-d^2 / (2 * width^2))`` with ``d`` the distance to the nearest mode; the modes sit at
``+-mode_offset`` on the diagonal. Every step ends the episode; the observation is a constant.
Copy this file to write a task of your own (see ``tasks/registry.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from fpo_locomotion.config import TrainConfig
from fpo_locomotion.tasks.one_step_bandit import OneStepBanditEnv


@dataclass
class BanditConfig:
    mode_offset: list[float] = field(default_factory=lambda: [0.7071, 0.7071])
    """Mode centres are +mode_offset and -mode_offset (2-D)."""
    width: float = 0.3
    """Reward bandwidth (m)."""
    high_reward_radius: float = 0.5
    """A sample within this distance of a mode counts as "in the mode" for the mode statistics."""


class BanditMultimodalEnv(OneStepBanditEnv):
    """Batched one-step bandit; observations ``policy`` and ``critic`` are ones [N, 1]."""

    def __init__(self, cfg: BanditConfig, num_envs: int, device: str = "cpu", seed: int = 0) -> None:
        super().__init__(num_envs, num_actions=2, device=device)
        self.cfg = cfg
        self.modes = torch.tensor([cfg.mode_offset, [-x for x in cfg.mode_offset]], device=self.device)  # [2, 2]

    def reward(self, actions: torch.Tensor) -> torch.Tensor:
        """Reward [N] of actions [N, 2]."""
        dist = torch.cdist(actions, self.modes).min(dim=-1).values
        return torch.exp(-dist.pow(2) / (2 * self.cfg.width**2))

    def mode_fractions(self, actions: torch.Tensor) -> tuple[float, float, float]:
        """Fractions of actions [N, 2] within ``high_reward_radius`` of mode +, of mode -, and of either."""
        near = torch.cdist(actions, self.modes) < self.cfg.high_reward_radius  # [N, 2]
        plus, minus = near[:, 0].float().mean().item(), near[:, 1].float().mean().item()
        return plus, minus, near.any(dim=-1).float().mean().item()

    def metrics(self, actions: torch.Tensor) -> dict[str, float]:
        plus, minus, high = self.mode_fractions(actions)
        return {"Metrics/mode_plus": plus, "Metrics/mode_minus": minus, "Metrics/high_reward": high}


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
