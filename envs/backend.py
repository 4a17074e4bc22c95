"""Physics backend interface: batched robot state as torch tensors, PD control, resets, randomization.

A backend knows physics only. It has no rewards, observations or commands: those live in a task
(``fpo_locomotion.tasks``). Every backend (``mujoco`` on the CPU, ``mjwarp`` on the GPU) exposes the
same tensors with the same shapes, so one task definition runs on all of them.

Conventions: quaternions are (w, x, y, z); "world" vectors are in the world frame, "base" vectors in
the pelvis (root body) frame; N = num_envs, J = number of actuated joints, F = number of feet.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch

from fpo_locomotion.envs.mjcf import RobotSpec


@dataclass
class BackendConfig:
    """Physics settings shared by every backend."""

    physics_dt: float = 0.005
    decimation: int = 4
    """Physics steps per control step (control dt = physics_dt * decimation)."""
    num_threads: int = 0
    """CPU threads for stepping; 0 uses every core."""


class Backend(ABC):
    """Batched physics of N copies of one robot.

    State tensors (valid after ``reset`` or ``step``; all float32 on ``self.device``):
        root_pos            [N, 3]   base position, world frame
        root_quat           [N, 4]   base orientation (w, x, y, z)
        root_lin_vel_w      [N, 3]   base linear velocity, world frame
        root_ang_vel_w      [N, 3]   base angular velocity, world frame
        root_lin_vel_b      [N, 3]   base linear velocity, base frame
        root_ang_vel_b      [N, 3]   base angular velocity, base frame
        joint_pos           [N, J]
        joint_vel           [N, J]
        joint_torque        [N, J]   PD torque applied in the last physics step (after effort clipping)
        joint_limits        [J, 2]   (lower, upper) of each joint's MJCF range (a constant)
        foot_pos            [N, F, 3] foot body positions, world frame
        foot_contact_force  [N, F, 3] net contact force on each foot, world frame
        base_contact        [N]      bool, a body other than the feet touches the floor
    """

    num_envs: int
    device: torch.device
    spec: RobotSpec
    control_dt: float

    @abstractmethod
    def step(self, joint_targets: torch.Tensor) -> None:
        """Advance one control step: ``decimation`` physics steps of PD control towards ``joint_targets`` [N, J]."""

    @abstractmethod
    def reset(self, env_ids: torch.Tensor, root_pos: torch.Tensor, root_quat: torch.Tensor,
              root_lin_vel_w: torch.Tensor, root_ang_vel_w: torch.Tensor,
              joint_pos: torch.Tensor, joint_vel: torch.Tensor) -> None:
        """Set the state of envs ``env_ids`` [M] (int64); the other arguments are [M, ...] as above."""

    @abstractmethod
    def set_friction(self, env_ids: torch.Tensor, friction: torch.Tensor) -> None:
        """Sliding friction coefficient of every geom of envs ``env_ids`` [M] to ``friction`` [M]."""

    @abstractmethod
    def set_base_mass_offset(self, env_ids: torch.Tensor, mass_offset: torch.Tensor) -> None:
        """Base body mass of envs ``env_ids`` [M] becomes nominal + ``mass_offset`` [M] (kg)."""

    @abstractmethod
    def set_pd_gain_scale(self, env_ids: torch.Tensor, kp_scale: torch.Tensor, kd_scale: torch.Tensor) -> None:
        """Kp and Kd of envs ``env_ids`` [M] become nominal times ``kp_scale`` / ``kd_scale`` [M, J]."""

    @abstractmethod
    def push(self, env_ids: torch.Tensor, lin_vel_w: torch.Tensor) -> None:
        """Add ``lin_vel_w`` [M, 3] to the base linear velocity (world frame) of envs ``env_ids`` [M]."""

    @abstractmethod
    def render(self, env_id: int, width: int, height: int, camera_distance: float = 3.0) -> np.ndarray:
        """An RGB frame [height, width, 3] uint8 of env ``env_id`` from a camera tracking its base."""


BACKENDS = ("mujoco", "mjwarp")


def make_backend(name: str, physics: BackendConfig, robot: RobotSpec, num_envs: int, device: str, seed: int) -> Backend:
    """The backend called ``name`` (mujoco: CPU; mjwarp: GPU, imported only when asked for) simulating ``robot``."""
    from fpo_locomotion.errors import ConfigError

    if name == "mujoco":
        from fpo_locomotion.envs.mujoco_backend import MujocoBackend

        return MujocoBackend(physics, robot, num_envs, device=device, seed=seed)
    if name == "mjwarp":
        try:
            from fpo_locomotion.envs.mjwarp_backend import MjwarpBackend
        except ImportError as e:
            raise ConfigError(f"Backend 'mjwarp' cannot be imported ({e}). Install the GPU extra: "
                              'pip install ".[gpu]"') from None
        return MjwarpBackend(physics, robot, num_envs, device=device, seed=seed)
    raise ConfigError(f"Unknown backend '{name}'. Valid: {', '.join(BACKENDS)}.")
