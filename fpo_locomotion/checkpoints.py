"""Checkpoints written by ``fpo-loco train``: found (file, run directory, "latest", "pretrained:<name>"),
loaded, checked against a run or env, and the policy rebuilt from one without a training runner.

Files are ``<run dir>/model_<iteration>.pt``, each a ``weights_only`` dict: ``actor_state_dict`` (+
``ema_actor_state_dict`` for FPO with EMA) and ``infos`` (task, algo, ``obs_dims``, ``num_actions``, ``env_cfg``,
``train_cfg`` as plain dicts). ``FpoRunner.save`` writes them.
"""

from __future__ import annotations

import glob
import os
import re
from typing import Any

import torch
from rsl_rl.utils import resolve_class
from tensordict import TensorDict
from torch import nn

from fpo_locomotion.config import ALGOS, CONFIG_FORMAT, TrainConfig, apply_overrides
from fpo_locomotion.errors import CheckpointError, ConfigError
from fpo_locomotion.pretrained import pretrained_file


def resolve_checkpoint(checkpoint: str, task: str, log_root: str = "logs") -> str:
    """A checkpoint file from a file path, a run directory, "latest" (newest run of ``task`` with a checkpoint)
    or "pretrained:<name>" (a policy shipped with the package)."""
    shipped = pretrained_file(checkpoint, "model.pt")
    if shipped:
        return shipped
    if checkpoint == "latest":
        found = glob.glob(os.path.join(log_root, task, "*", "model_*.pt"))
        runs = sorted((p for p in found if checkpoint_iteration(p) is not None), key=os.path.getmtime)
        if not runs:
            raise CheckpointError(f"No checkpoint under '{os.path.join(log_root, task)}'. Train the task first.")
        return latest_checkpoint(os.path.dirname(runs[-1]))
    if os.path.isdir(checkpoint):
        return latest_checkpoint(checkpoint)
    if not os.path.isfile(checkpoint):
        raise CheckpointError(f"Checkpoint '{checkpoint}' does not exist (give a model_*.pt file, a run directory, "
                              "'latest' or 'pretrained:fpo').")
    return checkpoint


def checkpoint_iteration(path: str) -> int | None:
    """N of a ``model_<N>.pt`` file name, None for any other name (``model_final.pt``, ``model_3.pt.tmp``)."""
    match = re.fullmatch(r"model_(\d+)\.pt", os.path.basename(path))
    return int(match.group(1)) if match else None


def newest_checkpoint(run_dir: str) -> str | None:
    """The ``model_<N>.pt`` with the highest N in ``run_dir`` (other ``model_*.pt`` names ignored), or None."""
    checkpoints = [p for p in glob.glob(os.path.join(run_dir, "model_*.pt")) if checkpoint_iteration(p) is not None]
    return max(checkpoints, key=checkpoint_iteration) if checkpoints else None


def latest_checkpoint(run_dir: str) -> str:
    """:func:`newest_checkpoint`, or CheckpointError when the run has none."""
    newest = newest_checkpoint(run_dir)
    if newest is None:
        raise CheckpointError(f"No model_<iteration>.pt checkpoint in '{run_dir}'. Train first, or pass a checkpoint file.")
    return newest


def load_checkpoint(path: str, map_location: str = "cpu") -> dict:
    """``torch.load(weights_only=True)`` with a clear error for a missing, corrupt or foreign file."""
    if not os.path.isfile(path):
        raise CheckpointError(f"Checkpoint '{path}' does not exist. Pass a model_*.pt file written by 'fpo-loco train'.")
    try:
        loaded = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for truncated/garbled files
        raise CheckpointError(f"Checkpoint '{path}' cannot be read ({type(e).__name__}); it is corrupt or truncated. "
                              "Use an earlier model_*.pt of the same run.") from None
    if not isinstance(loaded, dict) or "actor_state_dict" not in loaded or "infos" not in loaded:
        raise CheckpointError(f"'{path}' is not an fpo-locomotion checkpoint (no actor weights or run info).")
    return loaded


def check_checkpoint_fits(saved: dict, expected: dict, path: str) -> None:
    """Raise if the checkpoint was trained on another task, algorithm, or observation/action layout."""
    for key in ("task", "algo", "obs_dims", "num_actions"):
        if saved.get(key) != expected.get(key):
            raise CheckpointError(
                f"Checkpoint '{path}' does not fit: its {key} is {saved.get(key)!r}, this run's is "
                f"{expected.get(key)!r}. Use a checkpoint trained with the same task/algo/config."
            )


def build_policy(loaded: dict, use_ema: bool = True) -> tuple[nn.Module, str]:
    """The actor of a loaded checkpoint, in eval mode on the CPU, and which weights it holds ("ema"/"actor").

    FPO: the ``FlowActor`` (EMA weights where present and ``use_ema``); PPO: rsl_rl's Gaussian ``MLPModel``.
    Built from the checkpoint's own train config, as the training runner built it; its deterministic
    ``forward(obs)`` (a TensorDict of observation groups [B, O_g]) gives actions [B, A] (zero-sampling / the
    Gaussian mean).
    """
    infos = loaded["infos"]
    algo = infos.get("algo")
    if algo not in ALGOS:
        raise CheckpointError(f"The checkpoint's algorithm is {algo!r}; fpo-locomotion knows {', '.join(ALGOS)}.")
    train_cfg = saved_train_cfg(infos)
    actor_class, kwargs = resolve_class(train_cfg.to_rsl_rl(algo)["actor"])
    groups = train_cfg.runner.obs_groups
    obs = TensorDict({g: torch.zeros(1, dim) for g, dim in infos["obs_dims"].items()}, batch_size=[1])  # every group
    actor = actor_class(obs, groups, "actor", infos["num_actions"], **kwargs)
    weights = "ema" if use_ema and "ema_actor_state_dict" in loaded else "actor"
    try:
        actor.load_state_dict(loaded["ema_actor_state_dict" if weights == "ema" else "actor_state_dict"])
    except RuntimeError as e:
        raise CheckpointError(f"The checkpoint's actor weights do not fit its own {algo} actor config: {e}") from None
    return actor.eval(), weights


def saved_train_cfg(infos: dict) -> TrainConfig:
    """The train config the checkpoint with ``infos`` was trained with (every saved value, dict entries replaced)."""
    train_cfg = TrainConfig()
    try:
        apply_overrides(train_cfg, infos["train_cfg"], prefix="train.", replace_dicts=True)
    except ConfigError as e:
        raise CheckpointError(f"The checkpoint's train config no longer fits ({e}). "
                              "Use the fpo-locomotion version that trained it.") from None
    return train_cfg


def saved_env_cfg(infos: dict, spec) -> Any:
    """The env config the checkpoint with ``infos`` was trained with: task ``spec``'s defaults with every saved
    value (dict entries replaced, not merged), an older config format read through ``spec.upgrade_env_cfg``."""
    saved = infos["env_cfg"]
    config_format = infos.get("config_format", 1)
    if config_format < CONFIG_FORMAT and spec.upgrade_env_cfg is not None:
        saved = spec.upgrade_env_cfg(saved, config_format)
    cfg = spec.env_cfg()
    try:
        apply_overrides(cfg, saved, prefix="env.", replace_dicts=True)
    except ConfigError as e:
        raise CheckpointError(f"The checkpoint's env config no longer fits task '{spec.name}' ({e}). "
                              "Use the fpo-locomotion version that trained it.") from None
    return cfg
