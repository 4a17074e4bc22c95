"""Checkpoints written by ``fpo-loco train``: the policy rebuilt from one, without a training runner.

A checkpoint is a ``weights_only`` dict: ``actor_state_dict`` (+ ``ema_actor_state_dict`` for FPO with EMA),
and ``infos`` (task, algo, ``obs_dims``, ``num_actions``, ``env_cfg``, ``train_cfg`` as plain dicts).
"""

from __future__ import annotations

import torch
from rsl_rl.utils import resolve_class
from tensordict import TensorDict
from torch import nn

from fpo_locomotion.config import ALGOS, TrainConfig, apply_overrides
from fpo_locomotion.errors import CheckpointError, ConfigError


def build_policy(loaded: dict, use_ema: bool = True) -> tuple[nn.Module, str]:
    """The actor of a loaded checkpoint, in eval mode on the CPU, and which weights it holds ("ema"/"actor").

    FPO: the ``FlowActor`` (EMA weights where present and ``use_ema``); PPO: rsl_rl's Gaussian ``MLPModel``.
    Built from the checkpoint's own train config, as the training runner built it; its deterministic
    ``forward(obs TensorDict [B, O_group...])`` gives actions [B, A] (zero-sampling / the Gaussian mean).
    """
    infos = loaded["infos"]
    algo = infos.get("algo")
    if algo not in ALGOS:
        raise CheckpointError(f"The checkpoint's algorithm is {algo!r}; fpo-locomotion knows {', '.join(ALGOS)}.")
    train_cfg = TrainConfig()
    try:
        apply_overrides(train_cfg, infos["train_cfg"], prefix="train.")
    except ConfigError as e:
        raise CheckpointError(f"The checkpoint's train config no longer fits ({e}). "
                              "Use the fpo-locomotion version that trained it.") from None
    actor_class, kwargs = resolve_class(train_cfg.to_rsl_rl(algo)["actor"])
    groups = train_cfg.runner.obs_groups
    obs = TensorDict({g: torch.zeros(1, infos["obs_dims"][g]) for g in groups["actor"]}, batch_size=[1])
    actor = actor_class(obs, groups, "actor", infos["num_actions"], **kwargs)
    weights = "ema" if use_ema and "ema_actor_state_dict" in loaded else "actor"
    try:
        actor.load_state_dict(loaded["ema_actor_state_dict" if weights == "ema" else "actor_state_dict"])
    except RuntimeError as e:
        raise CheckpointError(f"The checkpoint's actor weights do not fit its own {algo} actor config: {e}") from None
    return actor.eval(), weights
