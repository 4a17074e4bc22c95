"""Task registry: a name maps to an env factory, its default env config and its default train config.

Register your own task from any module, then train it with ``fpo-loco train --import my_module --task NAME``::

    from fpo_locomotion.tasks import TaskSpec, register_task
    register_task(TaskSpec(name="my-task", make_env=MyEnv, env_cfg=MyEnvConfig, train_cfg=my_train_config))

``make_env(cfg, num_envs=..., device=..., seed=...)`` must return an rsl_rl ``VecEnv``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rsl_rl.env import VecEnv

from fpo_locomotion.config import TrainConfig
from fpo_locomotion.errors import UserError


@dataclass(frozen=True)
class TaskSpec:
    name: str
    make_env: Callable[..., VecEnv]
    """``make_env(env_cfg, num_envs=int, device=str, seed=int) -> VecEnv``."""
    env_cfg: Callable[[], Any]
    """Returns a fresh env config dataclass."""
    train_cfg: Callable[[], TrainConfig]
    """Returns a fresh train config."""
    default_num_envs: int = 64
    description: str = ""
    upgrade_env_cfg: Callable[[dict], dict] | None = None
    """Maps the env config (a dict) of a checkpoint of an older ``config.CONFIG_FORMAT`` to today's format."""


_TASKS: dict[str, TaskSpec] = {}


class UnknownTaskError(UserError):
    """No task of that name is registered."""


def register_task(spec: TaskSpec) -> None:
    """Add ``spec`` under ``spec.name``; registering a name twice is an error."""
    if spec.name in _TASKS:
        raise ValueError(f"Task '{spec.name}' is already registered ({_TASKS[spec.name].description or 'built in'}); "
                         "give your task another name.")
    _TASKS[spec.name] = spec


def get_task(name: str) -> TaskSpec:
    """The task called ``name``, or an error listing the registered ones."""
    if name not in _TASKS:
        raise UnknownTaskError(
            f"Unknown task '{name}'. Registered tasks: {', '.join(sorted(_TASKS))}. "
            "A task of your own must be registered first (fpo-loco train --import your_module ...)."
        )
    return _TASKS[name]


def task_names() -> list[str]:
    return sorted(_TASKS)
