"""``make_g1_flat_env``: the ``G1-Flat`` task on the backend named by ``cfg.backend``, as an rsl_rl VecEnv."""

from __future__ import annotations

from fpo_locomotion.envs.backend import Backend, BackendConfig
from fpo_locomotion.envs.robots import G1_12DOF, G1_12DOF_MODEL_PATH
from fpo_locomotion.envs.vec_env import LocomotionVecEnv
from fpo_locomotion.errors import ConfigError
from fpo_locomotion.tasks.g1_flat.config import G1FlatConfig
from fpo_locomotion.tasks.g1_flat.task import G1FlatTask

BACKENDS = ("mujoco", "mjwarp")


def make_backend(name: str, physics: BackendConfig, num_envs: int, device: str, seed: int) -> Backend:
    """The backend called ``name`` (mujoco: CPU; mjwarp: GPU, imported only when asked for)."""
    if name == "mujoco":
        from fpo_locomotion.envs.mujoco_backend import MujocoBackend

        return MujocoBackend(physics, G1_12DOF, num_envs, device=device, seed=seed)
    if name == "mjwarp":
        try:
            from fpo_locomotion.envs.mjwarp_backend import MjwarpBackend
        except ImportError as e:
            raise ConfigError(f"Backend 'mjwarp' cannot be imported ({e}). Install the GPU extra: "
                              'pip install ".[gpu]"') from None
        return MjwarpBackend(physics, G1_12DOF, num_envs, device=device, seed=seed)
    raise ConfigError(f"Unknown backend '{name}'. Valid: {', '.join(BACKENDS)}.")


def make_g1_flat_env(cfg: G1FlatConfig, num_envs: int, device: str = "cpu", seed: int = 0) -> LocomotionVecEnv:
    """``num_envs`` G1s on flat ground; observations "policy" [N, 47] and "critic" [N, 61].

    ``G1-Flat-Play`` is this env with ``g1_flat_play_config()``: the same task and observation layout.
    """
    physics = BackendConfig(model_path=str(G1_12DOF_MODEL_PATH), physics_dt=cfg.physics_dt,
                            decimation=cfg.decimation, num_threads=cfg.num_threads)
    backend = make_backend(cfg.backend, physics, num_envs, device, seed)
    task = G1FlatTask("G1-Flat", cfg, backend, physics, seed=seed)
    return LocomotionVecEnv(backend, physics, task)
