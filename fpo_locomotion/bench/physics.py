"""Raw MuJoCo stepping speed: the floor under the full env's speed (``fpo-loco bench env`` compares the two)."""

from __future__ import annotations

import time

import mujoco
import mujoco.batch
import numpy as np

from fpo_locomotion.envs.backend import BackendConfig, RobotSpec
from fpo_locomotion.envs.mjcf import actuator_ids, compile_model

FALLEN_HEIGHT = 0.5
"""An env whose pelvis is below this (m) restarts, as a fall termination would restart it in the env."""


def raw_physics_steps_per_second(cfg: BackendConfig, spec: RobotSpec, num_envs: int, action_scale: float,
                                 action_std: float, seconds: float, seed: int = 0) -> float:
    """Control steps per second, summed over envs: the full env's physics workload with no torch and no task.

    Same method and model as ``MujocoBackend``: ``compile_model`` and one ``mujoco.batch.Batch`` on
    ``cfg.num_threads`` threads, ``cfg.decimation`` physics steps per control step. Episodes start in the
    default pose at the default height; every control step the joint targets are
    ``q0 + action_scale * N(0, action_std^2)`` (numpy), and fallen envs restart, like the env's own episodes.
    """
    model = compile_model(spec, cfg.physics_dt)
    batch = mujoco.batch.Batch(model, num_envs, nthread=cfg.num_threads)
    qpos, qvel, ctrl = batch.bind("qpos"), batch.bind("qvel"), batch.bind("ctrl")
    batch.reset()
    start_qpos = qpos[0].copy()
    start_qpos[2] = spec.default_base_height
    start_qpos[[model.jnt_qposadr[model.joint(name).id] for name in spec.joint_names]] = spec.default_joint_pos
    qpos[:], qvel[:] = start_qpos, 0.0
    batch.forward()
    act, q0 = actuator_ids(model, spec.joint_names), np.asarray(spec.default_joint_pos)
    rng = np.random.default_rng(seed)
    steps, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        ctrl[:, act] = q0 + action_scale * action_std * rng.standard_normal((num_envs, len(q0)))
        batch.step(nstep=cfg.decimation)
        fallen = qpos[:, 2] < FALLEN_HEIGHT
        if fallen.any():
            qpos[fallen], qvel[fallen] = start_qpos, 0.0
            batch.forward(np.flatnonzero(fallen))
        steps += 1
    return steps * num_envs / elapsed
