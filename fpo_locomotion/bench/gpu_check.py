"""Measurements for a borrowed GPU machine (``scripts/gpu_check.sh``): one JSON object on stdout, last.

- ``backend``: raw ``MjwarpBackend`` stepping (no task, robots standing), env-steps/s per env count, and
  the time of the first construction + step (kernel compile, or load from warp's cache);
- ``env``: the full ``G1-Flat`` env with backend mjwarp (task terms, resets, randomization) under random
  actions, env-steps/s per env count;
- ``fpo``: FPO training iterations of ``G1-Flat`` (its train config), seconds of rollout (collection) and of
  learning per iteration, the first iteration (warm-up) reported apart.

Each part is measured on its own: a failure is recorded as ``{"error": ...}`` and the others still run,
so one device call always returns one complete JSON. Progress goes to stderr.

    python -m fpo_locomotion.bench.gpu_check --device cuda --sizes 1024,4096,8192 --fpo-envs 4096
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from collections.abc import Callable

import torch


def _log(message: str) -> None:
    print(f"[gpu_check] {message}", file=sys.stderr, flush=True)


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _guard(name: str, fn: Callable[[], dict]) -> dict:
    """``fn()``, or ``{"error": ...}`` if it raises (the check goes on with its other parts)."""
    start = time.perf_counter()
    try:
        result = fn()
    except Exception as e:  # noqa: BLE001 - a device call must always return its JSON
        traceback.print_exc(file=sys.stderr)
        result = {"error": f"{type(e).__name__}: {e}"}
    _log(f"{name} done in {time.perf_counter() - start:.1f} s")
    return result


def raw_backend_steps_per_second(num_envs: int, device: str, seconds: float) -> dict:
    """Control steps per second, summed over envs, of ``MjwarpBackend`` with G1 12-DoF, no task.

    The robots stand on ten times Unitree's servo stiffness (as in the backend tests) with joint targets
    of the default pose plus N(0, 0.02) rad, drawn ahead on the device: feet in contact, no falls, no resets
    (the full env's figure has those).
    """
    from fpo_locomotion.envs.backend import BackendConfig
    from fpo_locomotion.envs.mjwarp_backend import MjwarpBackend
    from fpo_locomotion.envs.robots import G1_12DOF

    start = time.perf_counter()
    backend = MjwarpBackend(BackendConfig(), G1_12DOF, num_envs, device=device)
    default = torch.tensor(G1_12DOF.default_joint_pos, device=backend.device)
    stiff = torch.ones(num_envs, len(default), device=backend.device)
    backend.set_pd_gain_scale(torch.arange(num_envs, device=backend.device), 10.0 * stiff, 3.0 * stiff)
    actions = default + 0.02 * torch.randn(16, num_envs, len(default), device=backend.device)
    backend.step(actions[0])
    _sync(device)
    first_s = time.perf_counter() - start
    steps, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for a in actions:
            backend.step(a)
        _sync(device)
        steps += 16
    return {"env_steps_per_s": steps * num_envs / elapsed, "first_construct_and_step_s": first_s}


def full_env_steps_per_second(num_envs: int, device: str, steps: int) -> dict:
    """Env-steps/s of ``G1-Flat`` on the mjwarp backend under N(0, 0.5) actions (falls and resets included),
    without and with ``profile_steps`` (per-step ``Perf/*`` timing: two device synchronizations per step), and
    their ratio (what the synchronizations cost)."""
    from fpo_locomotion.tasks import get_task

    spec = get_task("G1-Flat")
    result = {}
    for profile in (False, True):
        cfg = spec.env_cfg()
        cfg.backend, cfg.profile_steps = "mjwarp", profile
        env = spec.make_env(cfg, num_envs=num_envs, device=device, seed=0)
        with torch.inference_mode():
            actions = 0.5 * torch.randn(16, num_envs, env.num_actions, device=env.device)
            env.step(actions[0])  # warm-up: graph captures
            _sync(device)
            start = time.perf_counter()
            for i in range(steps):
                env.step(actions[i % 16])
            _sync(device)
            elapsed = time.perf_counter() - start
        result["env_steps_per_s_profiled" if profile else "env_steps_per_s"] = steps * num_envs / elapsed
    result["profiled_over_plain"] = result["env_steps_per_s_profiled"] / result["env_steps_per_s"]
    return result


def fpo_iteration_times(num_envs: int, device: str, iterations: int) -> dict:
    """Seconds of rollout and of learning per FPO iteration of ``G1-Flat`` (mjwarp, its train config)."""
    from fpo_locomotion.train import make_env, make_runner, resolve_configs

    spec, env_cfg, train_cfg = resolve_configs("G1-Flat")
    env_cfg.backend = "mjwarp"
    env = make_env(spec, env_cfg, num_envs, device, seed=0)
    runner = make_runner(spec, env, env_cfg, train_cfg, "fpo", log_dir=None, device=device)
    times: list[tuple[float, float]] = []
    log = runner.logger.log

    def record(**kwargs):
        times.append((kwargs["collect_time"], kwargs["learn_time"]))
        return log(**kwargs)

    runner.logger.log = record
    runner.learn(iterations, init_at_random_ep_len=True)
    steady = times[1:] or times
    steps_per_iteration = train_cfg.runner.num_steps_per_env * num_envs
    rollout = sum(t[0] for t in steady) / len(steady)
    learn = sum(t[1] for t in steady) / len(steady)
    return {"iterations": len(times), "first_rollout_s": times[0][0], "first_learn_s": times[0][1],
            "rollout_s": rollout, "learn_s": learn, "env_steps_per_iteration": steps_per_iteration,
            "env_steps_per_s": steps_per_iteration / (rollout + learn),
            "flow_steps": train_cfg.flow_actor.flow_steps, "num_mc": train_cfg.flow_actor.num_mc,
            "epochs": train_cfg.fpo.num_learning_epochs, "mini_batches": train_cfg.fpo.num_mini_batches}


def versions(device: str) -> dict:
    import mujoco
    import mujoco_warp
    import warp

    info = {"python": platform.python_version(), "torch": torch.__version__, "warp": warp.__version__,
            "mujoco_warp": mujoco_warp.__version__, "mujoco": mujoco.__version__, "device": device}
    if torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--sizes", default="1024,4096,8192", help="env counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=5.0, help="raw stepping time per env count")
    parser.add_argument("--env-steps", type=int, default=200, help="full-env steps per env count")
    parser.add_argument("--fpo-envs", type=int, default=4096)
    parser.add_argument("--fpo-iters", type=int, default=4, help="FPO iterations (the first is warm-up)")
    parser.add_argument("--parity-log", default=None, help="pytest output whose last line joins the JSON")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]

    result: dict = {"versions": _guard("versions", lambda: versions(args.device))}
    if args.parity_log:
        with open(args.parity_log) as f:
            lines = [line.strip() for line in f if line.strip()]
        result["parity_tests"] = lines[-1] if lines else "no output"
    result["backend"] = {n: _guard(f"backend {n}", lambda n=n: raw_backend_steps_per_second(n, args.device, args.seconds))
                         for n in sizes}
    result["env"] = {n: _guard(f"env {n}", lambda n=n: full_env_steps_per_second(n, args.device, args.env_steps))
                     for n in sizes}
    if args.fpo_iters > 0:
        result["fpo"] = _guard("fpo", lambda: fpo_iteration_times(args.fpo_envs, args.device, args.fpo_iters))
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
