"""Events of the velocity task: physics randomization at episode starts and pushes during episodes.

Each is one config entry ``env.events.<name> = {func, mode, interval_s, params}`` (``EventTermConfig``) whose
function changes the physics of some envs: ``func(e: EventContext, env_ids [M], **params) -> None``. Every
range is the one at full disturbance: at level L (``VelocityEnvConfig.disturbance_curriculum``) it shrinks
towards the event's nominal value (friction 1, added mass 0, gain scale 1, push 0), ``nominal + L * (end -
nominal)``. The task runs ``reset`` events for the envs that start an episode, and ``interval`` events for the
envs ``interval_s`` seconds (and every multiple) into their episode, once the level is above 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from fpo_locomotion.envs.backend import Backend
from fpo_locomotion.errors import ConfigError
from fpo_locomotion.tasks.velocity.observations import ObsParams


@dataclass
class EventContext:
    """What an event changes and draws from: the backend, the task's seeded generator, the privileged values the
    critic observes (``ObsParams``: friction, added base mass), and the current disturbance level."""

    backend: Backend
    generator: torch.Generator
    obs_params: ObsParams
    level: float = 0.0

    def uniform(self, shape: tuple[int, ...], final: list[float], nominal: float) -> torch.Tensor:
        """U[lo, hi] of ``shape``, where [lo, hi] is the range ``final`` shrunk towards ``nominal`` at the level."""
        if len(final) != 2:
            raise ConfigError(f"{list(final)} is not a [low, high] pair; give two numbers, e.g. [0.5, 1.5].")
        if final[0] > final[1]:
            raise ConfigError(f"{list(final)}: low {final[0]} > high {final[1]}; swap them.")
        low, high = (nominal + self.level * (end - nominal) for end in final)
        return low + (high - low) * torch.rand(shape, generator=self.generator, device=self.generator.device)


def randomize_friction(e: EventContext, env_ids: torch.Tensor, range: list[float] = (0.3, 1.25)) -> None:
    """Sliding friction of every geom of the envs (one value per env)."""
    friction = e.uniform((len(env_ids),), range, nominal=1.0)
    e.backend.set_friction(env_ids, friction)
    e.obs_params.friction[env_ids] = friction


def randomize_base_mass(e: EventContext, env_ids: torch.Tensor, range: list[float] = (-1.0, 3.0)) -> None:
    """kg added to the base body (the G1's pelvis carries torso, arms and head)."""
    added_mass = e.uniform((len(env_ids),), range, nominal=0.0)
    e.backend.set_base_mass_offset(env_ids, added_mass)
    e.obs_params.added_base_mass[env_ids] = added_mass


def randomize_pd_gains(e: EventContext, env_ids: torch.Tensor, kp_range: list[float] = (0.9, 1.1),
                       kd_range: list[float] = (0.9, 1.1)) -> None:
    """Kp and Kd of every joint times a scale drawn per env and joint."""
    shape = (len(env_ids), len(e.backend.spec.joint_names))
    e.backend.set_pd_gain_scale(env_ids, e.uniform(shape, kp_range, nominal=1.0), e.uniform(shape, kd_range, nominal=1.0))


def push_robot(e: EventContext, env_ids: torch.Tensor, max_vel_xy: float = 0.5) -> None:
    """Add U[-max, max] m/s to each of the base's world x and y velocities."""
    vel = e.uniform((len(env_ids), 3), [-max_vel_xy, max_vel_xy], nominal=0.0)
    vel[:, 2] = 0.0
    e.backend.push(env_ids, vel)


EVENT_TERMS: dict[str, Callable[..., None]] = {
    fn.__name__: fn for fn in (randomize_friction, randomize_base_mass, randomize_pd_gains, push_robot)
}
"""The built-in events by name (``func`` of an entry of ``env.events``)."""
