"""``make_velocity_env``: the velocity task with the robot ``cfg.robot`` on the backend ``cfg.backend``, as an
rsl_rl VecEnv."""

from __future__ import annotations

from fpo_locomotion.envs.backend import BackendConfig, make_backend
from fpo_locomotion.envs.robots import get_robot
from fpo_locomotion.envs.vec_env import LocomotionVecEnv
from fpo_locomotion.tasks.velocity.config import VelocityEnvConfig
from fpo_locomotion.tasks.velocity.task import VelocityTask


def make_velocity_env(cfg: VelocityEnvConfig, num_envs: int, device: str = "cpu", seed: int = 0) -> LocomotionVecEnv:
    """``num_envs`` robots on flat ground; for the 12-DoF G1 (``G1-Flat``) observations "policy" [N, 47] and
    "critic" [N, 61]. The Play variant is the same env with ``velocity_play(cfg)``: same task and layout."""
    physics = BackendConfig(physics_dt=cfg.physics_dt, decimation=cfg.decimation, num_threads=cfg.num_threads)
    backend = make_backend(cfg.backend, physics, get_robot(cfg.robot), num_envs, device, seed)
    task = VelocityTask(cfg, backend, seed=seed)
    return LocomotionVecEnv(backend, physics, task, profile_steps=cfg.profile_steps)
