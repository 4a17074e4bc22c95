"""Fall terminations of the velocity task: pure functions ``term(s: VelocityState, c: TermContext, **params) -> [N] bool``.

The time-out (``episode_length_s``) is not here: ``LocomotionVecEnv`` reports it as ``time_outs``, so that
the learner bootstraps the value there instead of treating it as a fall.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from fpo_locomotion.tasks.velocity.state import TermContext, VelocityState


def base_contact(s: VelocityState, c: TermContext) -> torch.Tensor:
    """A body other than the feet touches the floor (pelvis, torso, arms, knees...)."""
    return s.base_contact


def bad_orientation(s: VelocityState, c: TermContext, max_roll: float = 0.8, max_pitch: float = 1.0) -> torch.Tensor:
    """|roll| > max_roll or |pitch| > max_pitch (x-y-z Euler angles, legged_gym), for limits below pi/2.

    With the projected gravity g: pitch = asin(g_x) and roll = atan2(-g_y, -g_z), so the test needs no
    trigonometry: |g_x| > sin(max_pitch), or not (-g_z > 0 and |g_y| <= tan(max_roll) (-g_z)).
    """
    g = s.projected_gravity
    up = -g[:, 2]
    tilted_sideways = g[:, 1].abs() > math.tan(max_roll) * up
    return (g[:, 0].abs() > math.sin(max_pitch)) | tilted_sideways | (up <= 0)


def low_base_height(s: VelocityState, c: TermContext, min_height: float = 0.4) -> torch.Tensor:
    """Base below ``min_height`` (m; flat floor at z = 0)."""
    return s.root_pos[:, 2] < min_height


TERMINATION_TERMS: dict[str, Callable[..., torch.Tensor]] = {
    fn.__name__: fn for fn in (base_contact, bad_orientation, low_base_height)
}
"""The built-in fall terms by name (``func`` of an entry of ``env.terminations``; logged as
``Episode_Termination/<entry name>``)."""
