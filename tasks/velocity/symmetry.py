"""Left-right mirror of the velocity task (symmetry augmentation, ``fpo_locomotion.envs.symmetry``).

Mirroring the robot in its sagittal (x-z) plane: joints named ``left_*`` and ``right_*`` swap, roll and yaw joints
change sign; body-frame vectors keep x and z, and negate y (velocities) or x and z (angular velocities);
the command (vx, vy, yaw rate) becomes (vx, -vy, -yaw rate); the left leg's gait phase becomes the right one's.
Each built-in observation term has its mirror below, as (index, coeff) local to the term.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from fpo_locomotion.envs.symmetry import SignedPermutation
from fpo_locomotion.errors import ConfigError

Part = tuple[list[int], list[float]]


def name_mirror(names: list[str]) -> list[int]:
    """Index of each name's mirror twin (``left_x`` <-> ``right_x``; a name without a side is its own twin)."""
    swapped = [n.replace("left", "\0").replace("right", "left").replace("\0", "right") for n in names]
    missing = [s for s in swapped if s not in names]
    if missing:
        raise ConfigError(f"Symmetry augmentation: no mirror twin of {missing} among {names}; set "
                          "train.fpo.symmetry=false (or train.ppo.symmetry=false).")
    return [names.index(s) for s in swapped]


def joint_mirror(joint_names: list[str], default_joint_pos: torch.Tensor) -> Part:
    """Joints [J]: twins swap, roll and yaw joints negate. The default pose must be its own mirror."""
    index = name_mirror(joint_names)
    coeff = [-1.0 if ("roll" in n or "yaw" in n) else 1.0 for n in joint_names]
    mirrored = default_joint_pos[index] * torch.tensor(coeff, device=default_joint_pos.device)
    if not torch.allclose(mirrored, default_joint_pos, atol=1e-6):
        raise ConfigError("Symmetry augmentation needs a left-right symmetric default pose (roll/yaw joints of "
                          "twins opposite, the rest equal); set train.fpo.symmetry=false (or train.ppo.symmetry=false).")
    return index, coeff


def _vector(coeff: list[float]) -> Callable[[Part, list[int]], Part]:
    return lambda joints, feet: ([0, 1, 2], coeff)


def _identity(joints: Part, feet: list[int]) -> Part:
    return [0], [1.0]


def _joints(joints: Part, feet: list[int]) -> Part:
    return joints


def _gait_phase(joints: Part, feet: list[int]) -> Part:
    # the left leg's (sin, cos) becomes the right leg's, half a period on (LEG_OFFSETS (0, 0.5)): (-sin, -cos)
    return [0, 1], [-1.0, -1.0]


def _foot_contact_force(joints: Part, feet: list[int]) -> Part:
    # [F, 3] flattened, world frame: feet swap, y negates (exact for a heading along world x, an approximation
    # otherwise; a critic-only term)
    return [3 * f + c for f in feet for c in range(3)], [-1.0 if c == 1 else 1.0 for _ in feet for c in range(3)]


TERM_MIRRORS: dict[str, Callable[[Part, list[int]], Part]] = {
    "base_ang_vel": _vector([-1.0, 1.0, -1.0]),
    "projected_gravity": _vector([1.0, -1.0, 1.0]),
    "command": _vector([1.0, -1.0, -1.0]),
    "joint_pos": _joints,
    "joint_vel": _joints,
    "last_action": _joints,
    "gait_phase": _gait_phase,
    "base_lin_vel": _vector([1.0, -1.0, 1.0]),
    "base_lin_acc": _vector([1.0, -1.0, 1.0]),
    "base_height": _identity,
    "foot_height": lambda joints, feet: (feet, [1.0] * len(feet)),
    "foot_contact_force": _foot_contact_force,
    "friction": _identity,
    "added_base_mass": _identity,
}
"""Mirror of each built-in observation term (by ``func``) from the joint mirror and the feet's twin indices."""


def observation_mirror(terms: list[tuple[str, str, int]], joints: Part, feet: list[int], scale: torch.Tensor,
                       group: str, history_length: int = 1) -> SignedPermutation:
    """Mirror of one observation group of (name, func, size of one frame) terms with per-element scales [D], each
    term ``history_length`` frames long (term-major: every frame mirrors on its own)."""
    parts = []
    for name, func, size in terms:
        if func not in TERM_MIRRORS:
            raise ConfigError(f"Symmetry augmentation: observation term 'env.observations.{group}.{name}' ({func}) "
                              "has no left-right mirror (only the built-in terms have one); set train.fpo.symmetry="
                              "false (or train.ppo.symmetry=false).")
        part = TERM_MIRRORS[func](joints, feet)
        if len(part[0]) != size:
            raise ConfigError(f"Symmetry augmentation: observation term 'env.observations.{group}.{name}' has size "
                              f"{size}, its mirror expects {len(part[0])}.")
        index, coeff = part
        parts.append(([i + t * size for t in range(history_length) for i in index], coeff * history_length))
    return SignedPermutation.concat(parts, scale.device).rescaled(scale)
