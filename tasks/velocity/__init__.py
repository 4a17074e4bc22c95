"""Joystick velocity tracking of a legged robot on flat ground, any backend, any robot of ``envs.robots``.

Modules: ``config`` (dataclasses, ``velocity_rewards``, ``velocity_play``), ``commands``, ``state``,
``observations``, ``rewards``, ``terminations``, ``task`` (the task on a backend), ``env``
(``make_velocity_env``). A robot's task is a config subclass and one ``register_task`` (``tasks/g1_flat``).
"""

from fpo_locomotion.tasks.velocity.config import VelocityEnvConfig, velocity_play, velocity_rewards
from fpo_locomotion.tasks.velocity.env import make_velocity_env

__all__ = ["VelocityEnvConfig", "make_velocity_env", "velocity_play", "velocity_rewards"]
