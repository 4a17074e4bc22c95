"""``make_g1_flat_env``: the ``G1-Flat`` task with the robot ``cfg.robot`` on the backend ``cfg.backend``, as an
rsl_rl VecEnv."""

from __future__ import annotations

from fpo_locomotion.envs.backend import BackendConfig, make_backend
from fpo_locomotion.envs.robots import get_robot
from fpo_locomotion.envs.vec_env import LocomotionVecEnv
from fpo_locomotion.tasks.g1_flat.config import G1FlatConfig
from fpo_locomotion.tasks.g1_flat.task import G1FlatTask


def make_g1_flat_env(cfg: G1FlatConfig, num_envs: int, device: str = "cpu", seed: int = 0) -> LocomotionVecEnv:
    """``num_envs`` robots on flat ground; for the 12-DoF G1 observations "policy" [N, 47] and "critic" [N, 61].

    ``G1-Flat-Play`` is this env with ``g1_flat_play_config()``: the same task and observation layout.
    """
    physics = BackendConfig(physics_dt=cfg.physics_dt, decimation=cfg.decimation, num_threads=cfg.num_threads)
    backend = make_backend(cfg.backend, physics, get_robot(cfg.robot), num_envs, device, seed)
    task = G1FlatTask("G1-Flat", cfg, backend, seed=seed)
    return LocomotionVecEnv(backend, physics, task, profile_steps=cfg.profile_steps)
