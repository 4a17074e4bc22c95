"""``fpo-loco bench env``: env-steps/s of a full locomotion env (task + backend) against raw MuJoCo stepping.

The full env steps random actions around the default pose (``action_std`` of N(0, 1) per joint, so the
robots stumble, fall and reset as early in training); the raw figure steps the same MJCF with the same
thread count and decimation and no task (``bench.physics``). Their ratio is the share of the simulator's
speed that the task code keeps.
"""

from __future__ import annotations

import time

import torch

from fpo_locomotion.bench.physics import raw_physics_steps_per_second


def bench_env(task: str = "G1-Flat", num_envs_list: tuple[int, ...] = (64, 256), steps: int = 300,
              rounds: int = 3, action_std: float = 0.5, seed: int = 0) -> list[dict]:
    """Measure, print and return one row per env count: full and raw env-steps/s, their ratio, and the
    env's own split of a step into physics (``backend.step``/``reset``) and task milliseconds.

    The full env and the raw stepping alternate in ``rounds`` rounds (``steps / rounds`` env steps, then raw
    stepping for as long), so that a change in the machine's load hits both alike.
    """
    from fpo_locomotion.tasks import get_task

    spec = get_task(task)
    rows = []
    for num_envs in num_envs_list:
        env = spec.make_env(spec.env_cfg(), num_envs=num_envs, device="cpu", seed=seed)
        generator = torch.Generator().manual_seed(seed)
        per_round = max(1, steps // rounds)
        physics_ms = task_ms = full_s = raw_steps = 0.0
        with torch.inference_mode():
            env.step(action_std * torch.randn(num_envs, env.num_actions, generator=generator))  # warm-up
            for _ in range(rounds):
                actions = action_std * torch.randn(per_round, num_envs, env.num_actions, generator=generator)
                start = time.perf_counter()
                for a in actions:
                    log = env.step(a)[3]["log"]
                    physics_ms += log["Perf/physics_ms"]
                    task_ms += log["Perf/task_ms"]
                elapsed = time.perf_counter() - start
                full_s += elapsed
                raw_steps += elapsed * raw_physics_steps_per_second(
                    env.physics, env.backend.spec, num_envs, env.task.action_scale, action_std, seconds=elapsed, seed=seed)
        total = per_round * rounds
        full, raw = total * num_envs / full_s, raw_steps / full_s
        rows.append({"task": task, "num_envs": num_envs, "full_steps_per_s": full, "raw_steps_per_s": raw,
                     "ratio": full / raw, "physics_ms": physics_ms / total, "task_ms": task_ms / total})
    print(f"{'num_envs':>8} {'full env-steps/s':>17} {'raw env-steps/s':>16} {'ratio':>6} "
          f"{'physics ms/step':>16} {'task ms/step':>13}")
    for r in rows:
        print(f"{r['num_envs']:>8} {r['full_steps_per_s']:>17.0f} {r['raw_steps_per_s']:>16.0f} {r['ratio']:>6.0%} "
              f"{r['physics_ms']:>16.2f} {r['task_ms']:>13.2f}")
    return rows
