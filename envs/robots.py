"""Robots the backends can simulate: the MJCF file and the per-joint control figures of each.

``G1_12DOF``: Unitree G1 with its 12 leg joints actuated (torso, arms and head are rigid parts of the
pelvis). The model is the project's own MJCF (``resources/unitree_g1/g1_12dof.xml``); the figures
(joint order, default pose, Kp/Kd, effort limits) are those of the unitree_rl_gym G1 recipe.

The MJCF's position actuators carry the same Kp, Kd and effort limits, in the same (action) order, so
a backend may either use them (``ctrl`` = joint targets) or compute the PD torque itself.

Note: with these gains the default pose is not statically stable under a constant target: the centre
of mass sits ~4.6 cm ahead of the ankles and the ankle stiffness (2 x 40 N m/rad) is below the
toppling stiffness m g h (~220 N m/rad), so the robot tips forward after ~1 s (Unitree's own model
does the same). Standing needs a policy (or much stiffer ankles).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from fpo_locomotion.envs.mjcf import RobotSpec
from fpo_locomotion.errors import ConfigError


def _resource_path(*parts: str) -> Path:
    """A file of the ``fpo_locomotion.resources`` package as a real path (MuJoCo needs one)."""
    try:
        root = Path(str(importlib.resources.files("fpo_locomotion.resources")))
    except ModuleNotFoundError:  # running from a checkout that is not installed
        root = Path(__file__).resolve().parents[1] / "resources"
    return root.joinpath(*parts)


G1_12DOF_MODEL_PATH: Path = _resource_path("unitree_g1", "g1_12dof.xml")
"""MJCF scene: floor, light, G1 (free joint + 12 leg hinges, 12 position actuators in joint order)."""

_G1_LEG_JOINTS = ["hip_pitch", "hip_roll", "hip_yaw", "knee", "ankle_pitch", "ankle_roll"]
_G1_DEFAULT = {"hip_pitch": -0.1, "knee": 0.3, "ankle_pitch": -0.2}
_G1_KP = {"hip_pitch": 100.0, "hip_roll": 100.0, "hip_yaw": 100.0, "knee": 150.0, "ankle_pitch": 40.0, "ankle_roll": 40.0}
_G1_KD = {"hip_pitch": 2.0, "hip_roll": 2.0, "hip_yaw": 2.0, "knee": 4.0, "ankle_pitch": 2.0, "ankle_roll": 2.0}
_G1_EFFORT = {"hip_pitch": 88.0, "hip_roll": 139.0, "hip_yaw": 88.0, "knee": 139.0, "ankle_pitch": 50.0, "ankle_roll": 50.0}
_G1_ORDER = [(side, j) for side in ("left", "right") for j in _G1_LEG_JOINTS]

G1_12DOF_STANDING_HEIGHT = 0.783
"""Pelvis height (m) at rest on flat ground in the default pose (measured; the soles touch at 0.784)."""

G1_12DOF = RobotSpec(
    model_path=str(G1_12DOF_MODEL_PATH),
    joint_names=[f"{side}_{j}_joint" for side, j in _G1_ORDER],
    default_joint_pos=[_G1_DEFAULT.get(j, 0.0) for _, j in _G1_ORDER],
    kp=[_G1_KP[j] for _, j in _G1_ORDER],
    kd=[_G1_KD[j] for _, j in _G1_ORDER],
    effort_limit=[_G1_EFFORT[j] for _, j in _G1_ORDER],
    foot_body_names=["left_ankle_roll_link", "right_ankle_roll_link"],
    base_body_name="pelvis",
    # Reset height: the soles touch the floor at 0.784 m in the default pose; 0.79 leaves 6 mm to fall.
    default_base_height=0.79,
)
"""Unitree G1, 12 leg joints, in action order: left hip pitch/roll/yaw, knee, ankle pitch/roll, then right."""

G1_12DOF_FOOT_GEOM_NAMES = ["left_foot", "right_foot"]
"""Collision geoms (boxes) of the soles, one per foot, in ``foot_body_names`` order."""

ROBOTS: dict[str, RobotSpec] = {"g1_12dof": G1_12DOF}
"""Robots by the name an env config gives (``env.robot``); ``register_robot`` adds one."""


def register_robot(name: str, spec: RobotSpec) -> None:
    """Add ``spec`` as ``name`` (e.g. a variant ``dataclasses.replace(G1_12DOF, kp=...)``); a name is registered once."""
    if name in ROBOTS:
        raise ValueError(f"Robot '{name}' is already registered; give yours another name.")
    ROBOTS[name] = spec


def get_robot(name: str) -> RobotSpec:
    """The robot called ``name``, or a ConfigError naming the registered ones."""
    if name not in ROBOTS:
        raise ConfigError(f"Unknown robot '{name}'. Registered robots: {', '.join(sorted(ROBOTS))}; add yours with "
                          "fpo_locomotion.envs.robots.register_robot.")
    return ROBOTS[name]
