"""Left-right symmetry augmentation for rsl_rl (``symmetry_cfg.data_augmentation_func``), PPO's and FPO's.

A task that has a mirror gives, per observation group and for the actions, a signed permutation ``M``
(``mirrored[..., i] = coeff[i] * x[..., index[i]]``): the observation of the mirrored robot in the mirrored
world, and the action that mirrors an action. Every mini-batch is learned on twice: as it was, and mirrored,
which halves what the policy must discover on its own (a step to the left is a step to the right, mirrored).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tensordict import TensorDict

from fpo_locomotion.errors import ConfigError


@dataclass(frozen=True)
class SignedPermutation:
    """``apply(x)[..., i] = coeff[i] * x[..., index[i]]``; index [D] long, coeff [D] float."""

    index: torch.Tensor
    coeff: torch.Tensor

    @staticmethod
    def concat(parts: list[tuple[list[int], list[float]]], device: torch.device | str = "cpu") -> SignedPermutation:
        """One permutation over the concatenation of parts, each (index, coeff) local to its own slice."""
        index, coeff, offset = [], [], 0
        for part_index, part_coeff in parts:
            index += [offset + i for i in part_index]
            coeff += part_coeff
            offset += len(part_index)
        return SignedPermutation(torch.tensor(index, dtype=torch.long, device=device),
                                 torch.tensor(coeff, dtype=torch.float32, device=device))

    def rescaled(self, scale: torch.Tensor) -> SignedPermutation:
        """The same mirror on ``scale * x`` (scale [D], one factor per element, as an observation's scales)."""
        return SignedPermutation(self.index, self.coeff * scale / scale[self.index])

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """[..., D] -> [..., D]."""
        return x[..., self.index] * self.coeff


def env_mirror(env) -> dict[str, SignedPermutation]:
    """The mirrors of ``env``'s task: {"policy", "critic", "actions"}; a one-line ConfigError if it has none."""
    mirror = getattr(getattr(env, "task", None), "mirror", None)
    if mirror is None:
        raise ConfigError(f"{type(env).__name__} has no left-right mirror for symmetry augmentation; set "
                          "train.fpo.symmetry=false (or train.ppo.symmetry=false).")
    return mirror


def mirror_augmentation(env, obs: TensorDict | None = None, actions: torch.Tensor | None = None,
                        ) -> tuple[TensorDict | None, torch.Tensor | None]:
    """rsl_rl's augmentation signature: obs [B] groups and actions [B, A] -> [2B, ...], originals then mirrors."""
    mirror = env_mirror(env)
    if obs is not None:
        mirrored = TensorDict({key: mirror[key].apply(value) for key, value in obs.items()}, batch_size=obs.batch_size,
                              device=obs.device)
        obs = torch.cat([obs, mirrored])
    if actions is not None:
        actions = torch.cat([actions, mirror["actions"].apply(actions)])
    return obs, actions
