"""``fpo-loco bench train``: whole training iterations (collect + learn) of PPO and FPO against raw physics.

Each algorithm trains the task's own recipe for it (``fpo-loco train --algo <algo>``'s configs, then
``overrides``; default env count) for ``iterations`` rsl_rl iterations after one warm-up iteration; after each
timed iteration the raw MuJoCo stepping of the same workload (``bench.physics``: same model, env count, physics
threads and decimation, no torch, no task, no learner) runs for as long, so that a change in the machine's load
hits both alike. The ratio, training env-steps/s over raw physics env-steps/s, is the share of the simulator's
speed a training run keeps.
"""

from __future__ import annotations

import contextlib
import io
import time

from fpo_locomotion.bench.physics import raw_physics_steps_per_second

ACTION_STD = 0.5
"""Of the raw stepping's random actions: the robots stumble and restart, as early in training."""


def bench_train(task: str = "G1-Flat", algos: tuple[str, ...] = ("ppo", "fpo"), num_envs: int | None = None,
                iterations: int = 3, seed: int = 0, overrides: tuple[str, ...] = ()) -> list[dict]:
    """Measure, print and return one row per algorithm: training and raw env-steps/s, their ratio, and the
    learner's share of an iteration. ``overrides``: ``--set`` pairs (env.* and train.*) for every algorithm."""
    from fpo_locomotion.train import make_env, make_runner, resolve_configs, seed_everything

    rows = []
    for algo in algos:
        seed_everything(seed)
        spec, env_cfg, train_cfg = resolve_configs(task, overrides=overrides, algo=algo)
        num_envs = num_envs or spec.default_num_envs
        env = make_env(spec, env_cfg, num_envs, "cpu", seed)
        with contextlib.redirect_stdout(io.StringIO()):  # rsl_rl prints the networks
            runner = make_runner(spec, env, env_cfg, train_cfg, algo, None, "cpu")
            runner.learn(1)  # warm-up
        steps_per_it = num_envs * train_cfg.runner.num_steps_per_env
        train_s = raw_steps = learn_s = 0.0
        for _ in range(iterations):
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                runner.learn(1)
            elapsed = time.perf_counter() - start
            train_s += elapsed
            learn_s += runner.logger.last_times[1]
            raw_steps += elapsed * raw_physics_steps_per_second(
                env.physics, env.backend.spec, num_envs, env.task.action_scale, ACTION_STD, seconds=elapsed, seed=seed)
        train, raw = iterations * steps_per_it / train_s, raw_steps / train_s
        rows.append({"task": task, "algo": algo, "num_envs": num_envs, "train_steps_per_s": train,
                     "raw_steps_per_s": raw, "ratio": train / raw, "s_per_iteration": train_s / iterations,
                     "learn_share": learn_s / train_s})
    print(f"{task}, {num_envs} envs, {iterations} iterations each (after a warm-up), training vs raw physics"
          f"{' with ' + ' '.join(overrides) if overrides else ''}:")
    print(f"{'algo':>5} {'train env-steps/s':>18} {'raw env-steps/s':>16} {'ratio':>6} {'s/iteration':>12} "
          f"{'learner share':>14}")
    for r in rows:
        print(f"{r['algo']:>5} {r['train_steps_per_s']:>18.0f} {r['raw_steps_per_s']:>16.0f} {r['ratio']:>6.0%} "
              f"{r['s_per_iteration']:>12.2f} {r['learn_share']:>14.0%}")
    return rows
