"""Term entries of a task config: a reward, termination, observation or event is one ``{func, weight, params}`` entry.

``func`` names a built-in term of the task or is a ``"module:function"`` string (as rsl_rl's ``class_name``), so
a user module adds, removes or reweights terms without touching the package, and configs stay plain data
(YAML ``safe_dump``-able, checkpoints ``weights_only``-loadable)::

    env.rewards.feet_distance = RewardTermConfig(func="my_module:feet_distance", weight=-1.0, params={"min": 0.2})
    --set env.rewards.track_ang_vel_z.weight=1.0      --set env.rewards.hip_pos=null   (removes the term)

A term function is pure: ``func(state, context, **params) -> [N]`` (``context``: the task's constants such as
the robot's default pose; ``params``: the entry's keyword arguments, checked against the signature when the
task is built).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rsl_rl.utils import resolve_callable

from fpo_locomotion.errors import ConfigError


@dataclass
class TermConfig:
    """One term: its function and keyword arguments."""

    func: str
    """A built-in term of the task (its name) or "module:function" of your own."""
    params: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the function after (state, context); a missing one takes the function's default."""


@dataclass
class RewardTermConfig(TermConfig):
    """One reward term: ``weight * func(state, context, **params) * control_dt`` is added to the step's reward."""

    weight: float = 0.0
    """Per second; a term with weight 0 (and no other weight in ``weight_steps``) is not computed."""
    weight_steps: list[list[float]] = field(default_factory=list)
    """Reward-weight curriculum (Isaac Lab's ``modify_reward_weight``): ``[[step, weight], ...]`` in rising order of
    the env's control step (an rsl_rl iteration is ``num_steps_per_env`` of them); from each ``step`` on the term
    weighs ``weight``, before the first it weighs ``weight`` above. Empty: ``weight`` throughout."""


@dataclass
class ObsTermConfig(TermConfig):
    """One observation term: ``scale * (func(state, context, **params) + U[-noise, noise] x level)`` [N, size]."""

    scale: float | list[float] = 1.0
    """One factor, or one per element of the term."""
    noise: float = 0.0
    """Uniform noise (in the term's physical units, before the scale) at full disturbance level; policy group only."""


@dataclass
class EventTermConfig(TermConfig):
    """One event: ``func(event_context, env_ids, **params)`` changes the physics of the envs ``env_ids`` [M]."""

    mode: str = "reset"
    """"reset": for each env that starts an episode; "interval": for each env every ``interval_s`` of its episode."""
    interval_s: float = 0.0
    """Seconds between two events of an env ("interval" mode)."""


EVENT_MODES = ("reset", "interval")


def resolve_term(func: str, builtins: dict[str, Callable], key: str) -> Callable:
    """The function ``func`` names: a key of ``builtins`` or ``"module:function"``; a one-line ConfigError otherwise."""
    if func in builtins:
        return builtins[func]
    valid = f"built-in terms: {', '.join(builtins)}; or 'module:function' of your own"
    module_name, sep, name = func.rpartition(":")
    if not sep or not module_name or not name:
        raise ConfigError(f"Config key '{key}.func': unknown term '{func}'. Valid: {valid}.")
    try:
        fn = resolve_callable(func)  # rsl_rl's resolution of class_name strings
    except ImportError as e:
        raise ConfigError(f"Config key '{key}.func': cannot import module '{module_name}' ({e}). Valid: {valid}.") from None
    except AttributeError:
        fn = None
    if not callable(fn):
        raise ConfigError(f"Config key '{key}.func': module '{module_name}' has no function '{name}'; check the "
                          "name after the ':'.")
    return fn


def reward_weight(entry: RewardTermConfig, step: int) -> float:
    """The term's weight at env control step ``step``: the last ``weight_steps`` entry at or before it, else
    ``weight``."""
    weight = entry.weight
    for at, scheduled in entry.weight_steps:
        if step >= at:
            weight = scheduled
    return weight


def check_weight_steps(entries: dict[str, RewardTermConfig], key: str) -> None:
    """A ``weight_steps`` that is not ``[[step, weight], ...]`` in rising step order is a one-line ConfigError."""
    for name, entry in entries.items():
        steps = entry.weight_steps
        pairs = all(isinstance(p, (list, tuple)) and len(p) == 2 for p in steps)
        if not pairs or any(a[0] >= b[0] for a, b in zip(steps, steps[1:])):
            raise ConfigError(f"Config key '{key}.{name}.weight_steps' must be [[step, weight], ...] in rising step "
                              f"order, e.g. [[20400, 1.0]]; got {steps}.")


def bind_terms(entries: dict[str, TermConfig], builtins: dict[str, Callable], key: str) -> dict[str, Callable]:
    """``{name: fn(state, context)}`` with each entry's params bound; unknown params are a one-line ConfigError."""
    bound = {}
    for name, entry in entries.items():
        fn = resolve_term(entry.func, builtins, f"{key}.{name}")
        try:
            accepted = list(inspect.signature(fn).parameters)[2:]
        except ValueError:  # a C function without a signature
            raise ConfigError(f"Config key '{key}.{name}.func': {entry.func} is not a term(state, context, **params) "
                              "function.") from None
        unknown = sorted(set(entry.params) - set(accepted))
        if unknown:
            raise ConfigError(f"Config key '{key}.{name}.params': {entry.func} takes no parameter(s) {unknown}. "
                              f"Valid: {', '.join(accepted) or 'none'}.")
        bound[name] = functools.partial(fn, **entry.params)
    return bound
