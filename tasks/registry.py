"""Task registry: a name maps to an env factory, its default env config and its default train config.

Register your own task from any module, then train it with ``fpo-loco --import my_module train --task NAME``::

    from fpo_locomotion.tasks import TaskSpec, register_task
    register_task(TaskSpec(name="my-task", make_env=MyEnv, env_cfg=MyEnvConfig, train_cfg=my_train_config,
                           play=my_play))   # optional: also registers "my-task-Play", what fpo-loco play runs

``make_env(cfg, num_envs=..., device=..., seed=...)`` must return an rsl_rl ``VecEnv``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
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
    upgrade_env_cfg: Callable[[dict, int], dict] | None = None
    """``upgrade_env_cfg(saved, config_format)``: the env config (a dict) of a checkpoint of an older
    ``config.CONFIG_FORMAT`` in today's format."""
    play: Callable[[Any], Any] | None = None
    """Turns an env config of this task (a trained checkpoint's) into its Play variant's in place, e.g. a fixed
    command schedule and no disturbances; ``register_task`` then also registers ``<name>-Play``."""
    trained_task: str | None = None
    """Set on a Play variant: the task whose policies it plays."""
    algo_overrides: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Algorithm -> ``--set`` pairs applied before the user's config file and ``--set``: where the recipe that
    trains one learner's shipped policy differs from the task's defaults."""


_TASKS: dict[str, TaskSpec] = {}


class UnknownTaskError(UserError):
    """No task of that name is registered."""


PLAY_SUFFIX = "-Play"


def register_task(spec: TaskSpec) -> None:
    """Add ``spec`` under ``spec.name`` (and its Play variant ``<name>-Play`` if ``spec.play`` is set);
    registering a name twice is an error."""
    variants = [spec]
    if spec.play is not None:
        variants.append(dataclasses.replace(
            spec, name=spec.name + PLAY_SUFFIX, env_cfg=lambda: spec.play(spec.env_cfg()), play=None,
            trained_task=spec.name, default_num_envs=16, description=f"{spec.name} as fpo-loco play runs it"))
    for variant in variants:
        if variant.name in _TASKS:
            raise ValueError(f"Task '{variant.name}' is already registered "
                             f"({_TASKS[variant.name].description or 'built in'}); give your task another name.")
    for variant in variants:
        _TASKS[variant.name] = variant


def get_task(name: str) -> TaskSpec:
    """The task called ``name``, or an error listing the registered ones."""
    if name not in _TASKS:
        raise UnknownTaskError(
            f"Unknown task '{name}'. Registered tasks: {', '.join(sorted(_TASKS))}. "
            "A task of your own must be registered first (fpo-loco train --import your_module ...)."
        )
    return _TASKS[name]


def play_pair(name: str) -> tuple[TaskSpec, TaskSpec]:
    """(the trained task, the task ``fpo-loco play`` runs) for a task or its Play variant, given by name; a task
    registered without ``play`` plays itself."""
    spec = get_task(name)
    trained = get_task(spec.trained_task) if spec.trained_task else spec
    return trained, _TASKS[trained.name + PLAY_SUFFIX] if trained.play else trained


def task_names() -> list[str]:
    return sorted(_TASKS)
