"""``G1-Flat``: Unitree G1 (12 leg joints) joystick velocity tracking on flat ground, any backend.

Modules: ``config`` (dataclasses), ``commands``, ``state``, ``observations``, ``rewards``, ``terminations``,
``task`` (the task on a backend), ``env`` (``make_g1_flat_env``), ``train_config``.
"""

from fpo_locomotion.tasks.g1_flat.config import G1FlatConfig, g1_flat_play, g1_flat_play_config
from fpo_locomotion.tasks.g1_flat.env import make_g1_flat_env
from fpo_locomotion.tasks.g1_flat.train_config import g1_flat_train_config

__all__ = ["G1FlatConfig", "g1_flat_play", "g1_flat_play_config", "g1_flat_train_config", "make_g1_flat_env"]
