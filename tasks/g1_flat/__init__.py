"""``G1-Flat``: the velocity task (``fpo_locomotion.tasks.velocity``) with the Unitree G1 (12 leg joints) on flat
ground, any backend: ``config`` (its env config and the upgrade of format-1 checkpoints), ``train_config``.
"""

from fpo_locomotion.tasks.g1_flat.config import G1FlatConfig, g1_flat_play_config, upgrade_g1_flat_env_cfg
from fpo_locomotion.tasks.g1_flat.train_config import G1_FLAT_PPO_OVERRIDES, g1_flat_train_config

__all__ = ["G1_FLAT_PPO_OVERRIDES", "G1FlatConfig", "g1_flat_play_config", "g1_flat_train_config", "upgrade_g1_flat_env_cfg"]
