"""``fpo-loco train``: build a task's env and configs, then run rsl_rl's runner with FPO or PPO.

Run directory: ``logs/<task>/<timestamp>_<algo>[_<run_name>]/`` with ``config.yaml`` (the resolved env and
train configs), tensorboard events and ``model_<iteration>.pt`` checkpoints.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import random
import shutil
import signal
import threading
import time
import warnings
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import yaml

import fpo_locomotion
from fpo_locomotion.checkpoints import load_checkpoint, newest_checkpoint, resolve_checkpoint, saved_env_cfg, saved_train_cfg
from fpo_locomotion.config import ALGOS, CONFIG_FORMAT, TrainArgs, TrainConfig, apply_overrides, load_yaml, parse_set_overrides
from fpo_locomotion.envs.symmetry import env_mirror
from fpo_locomotion.errors import ConfigError, UserError
from fpo_locomotion.models.flow_actor import ESTIMATED_GROUP
from fpo_locomotion.pretrained import PREFIX as PRETRAINED_PREFIX
from fpo_locomotion.runner import FpoRunner
from fpo_locomotion.tasks import TaskSpec, get_task


def resolve_configs(
    task: str, config_file: str | None = None, overrides: tuple[str, ...] = (), algo: str | None = None,
    resume_path: str | None = None,
) -> tuple[TaskSpec, Any, TrainConfig]:
    """The base configs, then the YAML file, then ``--set`` pairs, applied in that order.

    The base is the checkpoint's own env and train configs for a run resumed from ``resume_path``; else the task's
    defaults with the task's overrides for ``algo`` (``TaskSpec.algo_overrides``).
    """
    spec = get_task(task)
    layers = []
    if resume_path:
        infos = load_checkpoint(resume_path)["infos"]
        env_cfg, train_cfg = saved_env_cfg(infos, spec), saved_train_cfg(infos)
    else:
        env_cfg, train_cfg = spec.env_cfg(), spec.train_cfg()
        layers.append(parse_set_overrides(list(spec.algo_overrides.get(algo, ()))))
    for layer in layers + ([load_yaml(config_file)] if config_file else []) + [parse_set_overrides(list(overrides))]:
        unknown = set(layer) - {"env", "train"}
        if unknown:
            raise ConfigError(f"Unknown config section(s) {sorted(unknown)}: overrides start with 'env.' or 'train.'.")
        for section, cfg in (("env", env_cfg), ("train", train_cfg)):
            values = layer.get(section) or {}
            if not isinstance(values, dict):
                raise ConfigError(f"The '{section}:' section must be a mapping of keys to values, not {values!r}.")
            apply_overrides(cfg, values, prefix=f"{section}.")
    train_cfg.validate()
    compiler = os.environ.get("CXX", "g++")
    if train_cfg.runner.torch_compile_mode and not shutil.which(compiler):
        raise ConfigError(f"train.runner.torch_compile_mode={train_cfg.runner.torch_compile_mode} needs a C++ compiler "
                          f"for torch.compile, and {compiler} is not on PATH: install g++ (or set CXX to yours), or "
                          "drop the --set to train uncompiled.")
    return spec, env_cfg, train_cfg


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_env(spec: TaskSpec, env_cfg: Any, num_envs: int, device: str, seed: int):
    if num_envs <= 0:
        raise ConfigError(f"--num-envs must be a positive integer, got {num_envs}.")
    return spec.make_env(env_cfg, num_envs=num_envs, device=device, seed=seed)


def env_layout(env) -> dict:
    """The env's observation and action layout as a checkpoint records it: ``obs_dims`` (group -> O_group), ``num_actions``."""
    return {"obs_dims": {k: int(v.shape[-1]) for k, v in env.get_observations().items()},
            "num_actions": int(env.num_actions)}


def run_info(spec: TaskSpec, algo: str, env, env_cfg: Any, train_cfg: TrainConfig) -> dict:
    """What a checkpoint records about its run (plain Python types only, so it loads with weights_only)."""
    return {
        "task": spec.name,
        "algo": algo,
        **env_layout(env),
        "env_cfg": dataclasses.asdict(env_cfg),
        "train_cfg": dataclasses.asdict(train_cfg),
        "config_format": CONFIG_FORMAT,
        "version": fpo_locomotion.__version__,
    }


def make_runner(spec: TaskSpec, env, env_cfg: Any, train_cfg: TrainConfig, algo: str, log_dir: str | None,
                device: str) -> FpoRunner:
    alg_cfg = train_cfg.fpo if algo == "fpo" else train_cfg.ppo
    if alg_cfg.symmetry:
        env_mirror(env)  # a task or term without a mirror fails here, before any training
    if ESTIMATED_GROUP in env.get_observations().keys() and not (algo == "fpo" and train_cfg.flow_actor.estimator_hidden_dims):
        raise ConfigError("env.observations.estimated lists terms, but no actor estimates them: set "
                          "train.flow_actor.estimator_hidden_dims (FPO), or remove them (--set "
                          "env.observations.estimated.NAME=null).")
    if alg_cfg.use_mixed_precision and not device.startswith("cuda") and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        warnings.warn("use_mixed_precision on a CPU without bf16 instructions (AVX512-BF16 or AMX): bf16 is emulated, "
                      "slower than float32 (README Train); drop the --set to train in float32.", stacklevel=2)
    return FpoRunner(env, train_cfg.to_rsl_rl(algo), run_info(spec, algo, env, env_cfg, train_cfg),
                     log_dir=log_dir, device=device)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt():
    """SIGTERM (``kill``, a cluster scheduler's stop) ends training as Ctrl-C does: the last checkpoint is named.
    Only the main thread can set a signal handler; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _first_missing_folder(path: str) -> str | None:
    """The outermost folder of ``path`` that does not exist yet (what ``os.makedirs(path)`` creates), or None."""
    path, missing = os.path.abspath(path), None
    while not os.path.isdir(path):
        missing, path = path, os.path.dirname(path)
    return missing


def train(args: TrainArgs) -> str:
    """Train (or resume) and return the run directory.

    Every input is checked before the run folder is made; a new run whose set-up fails leaves no folder.
    Ctrl-C stops after the iteration in progress and names the last checkpoint (UserError).
    """
    if args.algo not in ALGOS:
        raise ConfigError(f"Unknown algorithm '{args.algo}'. Valid: {', '.join(ALGOS)}.")
    if args.resume and args.resume.startswith(PRETRAINED_PREFIX):
        raise ConfigError(f"--resume {args.resume}: a run resumes in its own folder, and a shipped policy has none. "
                          "Copy its model.pt into a run folder of yours (e.g. logs/G1-Flat/finetune/) and resume that.")
    resume_path = resolve_checkpoint(args.resume, args.task, args.log_root) if args.resume else None
    spec, env_cfg, train_cfg = resolve_configs(args.task, args.config, args.overrides, args.algo, resume_path)
    for key in ("max_iterations", "seed", "logger"):
        if getattr(args, key) is not None:
            apply_overrides(train_cfg.runner, {key: getattr(args, key)}, prefix="--")
    if train_cfg.runner.max_iterations < 1:
        raise ConfigError(f"--max-iterations must be a positive integer (the run's total, counting the iterations a "
                          f"resumed run already did), got {train_cfg.runner.max_iterations}.")
    train_cfg.validate()
    if train_cfg.runner.logger not in ("tensorboard", "wandb"):
        raise ConfigError(f"Unknown logger '{train_cfg.runner.logger}'. Valid: tensorboard, wandb.")
    if train_cfg.runner.logger == "wandb" and importlib.util.find_spec("wandb") is None:
        raise ConfigError("--logger wandb needs the wandb package: pip install -e \".[wandb]\" (then wandb login).")
    if os.sep in args.run_name or (os.altsep and os.altsep in args.run_name) or args.run_name.startswith("."):
        raise ConfigError(f"--run-name '{args.run_name}' must be a plain folder-name suffix (no '/', not starting "
                          "with '.').")
    num_envs = args.num_envs if args.num_envs is not None else spec.default_num_envs
    if num_envs <= 0:
        raise ConfigError(f"--num-envs must be a positive integer, got {num_envs}.")
    device, rank = args.device, int(os.environ.get("RANK", "0"))
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device} asks for a GPU but torch sees none (CPU-only torch build or no driver). "
                          "Use --device cpu; the mjwarp backend also runs on the CPU, slowly.")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # torchrun: one backend per rank, distinct seeds
        if not device.startswith("cuda"):
            raise ConfigError("Multi-process training (torchrun) needs --device cuda: rsl_rl reduces over NCCL.")
        device = f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
        train_cfg.runner.seed += rank

    if resume_path:
        log_dir = os.path.dirname(os.path.abspath(resume_path))
    else:
        name = "_".join(filter(None, [time.strftime("%Y-%m-%d_%H-%M-%S"), args.algo, args.run_name]))
        log_dir = os.path.join(args.log_root, args.task, name)
    created = _first_missing_folder(log_dir)
    try:
        os.makedirs(log_dir, exist_ok=True)
        with open(os.path.join(log_dir, ".write_test"), "w"):
            pass
        os.remove(os.path.join(log_dir, ".write_test"))
    except OSError as e:
        raise ConfigError(f"Cannot write the run folder '{log_dir}' ({e.strerror}); pass a writable --log-root.") from None
    try:
        seed_everything(train_cfg.runner.seed)
        env = make_env(spec, env_cfg, num_envs, device, train_cfg.runner.seed)
        runner = make_runner(spec, env, env_cfg, train_cfg, args.algo, log_dir, device)
        if resume_path:
            runner.load(resume_path)
    except (UserError, ValueError, TypeError):
        if created:
            shutil.rmtree(created, ignore_errors=True)
        raise
    remaining = train_cfg.runner.max_iterations - runner.current_learning_iteration
    if resume_path and remaining <= 0:
        raise ConfigError(f"{resume_path} is already at iteration {runner.current_learning_iteration - 1} of "
                          f"{train_cfg.runner.max_iterations}; pass a larger --max-iterations to train on.")
    with open(os.path.join(log_dir, "config.yaml"), "w") as f:
        yaml.safe_dump({"task": args.task, "algo": args.algo, "num_envs": num_envs,
                        "env": dataclasses.asdict(env_cfg), "train": dataclasses.asdict(train_cfg)}, f, sort_keys=False)
    if resume_path:
        print(f"Resumed from {resume_path} at iteration {runner.current_learning_iteration}.")
        task = getattr(env, "task", None)
        if hasattr(task, "common_step"):  # a curriculum on env steps continues where the run stopped
            task.common_step = runner.current_learning_iteration * train_cfg.runner.num_steps_per_env
    try:
        with sigterm_as_interrupt():
            runner.learn(remaining, init_at_random_ep_len=True)
    except KeyboardInterrupt:
        raise UserError(f"Interrupted. Last checkpoint: {newest_checkpoint(log_dir) or 'none yet'}; "
                        f"continue with --resume {log_dir}.") from None
    print(f"Run directory: {log_dir}")
    return log_dir
