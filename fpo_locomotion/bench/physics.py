"""Raw MuJoCo stepping speed: the floor under the full env's speed (``fpo-loco bench env`` compares the two)."""

from __future__ import annotations

import time

import mujoco
import mujoco.batch


def raw_physics_steps_per_second(model_path: str, num_envs: int, num_threads: int, decimation: int,
                                 seconds: float) -> float:
    """Control steps per second, summed over envs, of ``num_envs`` copies of the MJCF at ``model_path``.

    Same method as ``MujocoBackend.step``: one ``mujoco.batch.Batch`` on ``num_threads`` threads (0: all
    cores), ``decimation`` physics steps per call, no torch and no task. Every env starts in the model's
    default state, each servo holding its joint's initial position, and runs for about ``seconds``.
    """
    model = mujoco.MjModel.from_xml_path(str(model_path))
    batch = mujoco.batch.Batch(model, num_envs, nthread=num_threads)
    joint_pos = batch.bind("actuator_length")  # bound before the reset computes it; gear 1: the joint position
    batch.reset()
    batch.bind("ctrl")[:] = joint_pos
    batch.step(nstep=decimation)  # warm-up
    steps, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        batch.step(nstep=decimation)
        steps += 1
    return steps * num_envs / elapsed
