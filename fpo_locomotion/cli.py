"""``fpo-loco``: train, play, export, sim2sim, benchmarks and pictures.

Each command imports its module lazily: ``sim2sim`` must run with onnxruntime and numpy only, no torch.
Errors caused by input (``fpo_locomotion.errors.UserError``) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
import types
import typing

from fpo_locomotion.config import ExportArgs, PlayArgs, TrainArgs, TrainConfig
from fpo_locomotion.config_doc import field_docs
from fpo_locomotion.errors import UserError


def _import_user_modules(modules: list[str]) -> None:
    """Import modules that register tasks of their own (``--import my_package.my_tasks``)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise UserError(f"--import {name}: cannot import it ({e}). Is it installed or on PYTHONPATH?") from None


def add_dataclass_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """One flag per field of dataclass ``cls``: ``--num-envs`` for ``num_envs`` (a field without a default is
    required), typed by its annotation (``X | None`` -> X, ``tuple[str, ...]`` -> repeatable), help from its
    docstring; a bool is a switch; ``field(metadata=...)`` may give ``choices``, ``metavar``, another ``flag``
    or ``positional`` (an optional positional argument)."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if isinstance(kind, types.UnionType):  # X | None -> X
            kind = next(t for t in typing.get_args(kind) if t is not type(None))
        flag = f.metadata.get("flag", "--" + f.name.replace("_", "-"))
        kwargs = {"dest": f.name, "help": docs.get(f.name), "metavar": f.metadata.get("metavar"),
                  "choices": f.metadata.get("choices")}
        if f.metadata.get("positional"):
            del kwargs["dest"]
            parser.add_argument(f.name, nargs="?", default=f.default, type=kind, **kwargs)
            continue
        if typing.get_origin(kind) is tuple:
            kwargs.update(action="append", default=[], type=typing.get_args(kind)[0])
        elif kind is bool:
            kwargs.update(action="store_true", default=f.default)
            del kwargs["metavar"], kwargs["choices"]
        elif f.default is dataclasses.MISSING:
            kwargs.update(required=True, type=kind)
        else:
            kwargs.update(default=f.default, type=kind)
        parser.add_argument(flag, **kwargs)


def dataclass_from_flags(cls: type, namespace: argparse.Namespace):
    """The ``cls`` instance of the parsed flags of ``add_dataclass_flags``."""
    values = {f.name: getattr(namespace, f.name) for f in dataclasses.fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _cmd_train(a: argparse.Namespace) -> None:
    from fpo_locomotion.train import train

    args = dataclass_from_flags(TrainArgs, a)
    if a.backend:
        args.overrides += (f"env.backend={a.backend}",)
    train(args)


def _cmd_config(a: argparse.Namespace) -> None:
    from fpo_locomotion.config_doc import format_rows, task_rows
    from fpo_locomotion.train import resolve_configs

    _, env_cfg, train_cfg = resolve_configs(a.task, a.config, tuple(a.set), a.algo)
    print(format_rows(task_rows(env_cfg, train_cfg, algo=a.algo, key_filter=a.prefix or "")))


def _cmd_viz_bandit(a: argparse.Namespace) -> None:
    from fpo_locomotion.viz_bandit import viz_bandit

    viz_bandit(out=a.out, seeds=a.seeds, max_iterations=a.max_iterations)


def _cmd_viz_flow(a: argparse.Namespace) -> None:
    from fpo_locomotion.viz_flow import viz_flow

    viz_flow(out_dir=a.out_dir, seed=a.seed, max_iterations=a.max_iterations)


def _cmd_export(a: argparse.Namespace) -> None:
    from fpo_locomotion.export import run_export

    e = dataclass_from_flags(ExportArgs, a)
    if (e.checkpoint is None) == (e.checkpoint_opt is None):
        raise UserError("Name the checkpoint once: fpo-loco export CHECKPOINT or fpo-loco export --checkpoint CHECKPOINT.")
    run_export(e.checkpoint or e.checkpoint_opt, out_dir=e.out, task=e.task, flow_steps=e.flow_steps, use_ema=not e.no_ema,
               log_root=e.log_root)


def _cmd_sim2sim(a: argparse.Namespace) -> None:
    from fpo_locomotion.sim2sim import run_sim2sim  # onnxruntime + numpy + mujoco only: keep torch out of this path

    run_sim2sim(a.policy, commands=a.commands, duration=a.duration, video=a.video)


def _cmd_play(a: argparse.Namespace) -> None:
    from fpo_locomotion.play import play

    p = dataclass_from_flags(PlayArgs, a)
    play(p.checkpoint, p.task, commands=p.commands, duration=p.duration, video=p.video, num_envs=p.num_envs,
         render=not p.no_video, viewer=p.viewer, log_root=p.log_root, fps=p.fps, seed=p.seed, disturbed=p.disturbed,
         overrides=p.overrides)


def _cmd_plot_runs(a: argparse.Namespace) -> None:
    from fpo_locomotion.plot_runs import DEFAULT_TAGS, plot_runs

    plot_runs(a.runs, a.out, tuple(a.tags or DEFAULT_TAGS), a.smooth, x=a.x)


def _cmd_bench(a: argparse.Namespace) -> None:
    if a.num_envs and min(a.num_envs) < 1 or a.repeats < 1 or a.num_steps < 1 or a.epochs < 1:
        raise UserError("--num-envs, --repeats, --num-steps and --epochs must be positive integers.")
    if a.what == "learner":
        from fpo_locomotion.bench.learner import bench_learner

        bench_learner(num_envs=a.num_envs[0] if a.num_envs else 1024, num_steps=a.num_steps, epochs=a.epochs,
                      repeats=a.repeats)
    elif a.what == "train":
        from fpo_locomotion.bench.train import bench_train

        bench_train(task=a.task, num_envs=a.num_envs[0] if a.num_envs else None, iterations=a.repeats,
                    overrides=tuple(a.set))
    elif a.what == "modes":
        from fpo_locomotion.bench.modes import bench_modes

        bench_modes(tasks=a.tasks, algos=tuple(a.algos), seeds=a.seeds, budgets=a.budgets, overrides=tuple(a.set))
    elif a.what == "env":
        from fpo_locomotion.bench.env import bench_env

        bench_env(task=a.task, num_envs_list=tuple(a.num_envs or (64, 256)))
    else:
        from fpo_locomotion.bench.inference import bench_inference

        bench_inference(ks=tuple(a.ks))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fpo-loco", description=__doc__.splitlines()[0])
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import a module that registers tasks of its own (repeatable)")
    sub = parser.add_subparsers(dest="command", required=True)

    sections = "\n".join(f"  train.{name:<16} {doc}" for name, doc in field_docs(TrainConfig).items())
    t = sub.add_parser("train", help="train a policy with FPO or PPO", formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="config sections (--set KEY=VALUE, --config YAML; 'fpo-loco config --task T' lists every "
                       f"key):\n  env.*                  the task's env config\n{sections}")
    add_dataclass_flags(t, TrainArgs)
    t.add_argument("--backend", default=None, help="simulator backend of locomotion tasks: mujoco (CPU) or mjwarp "
                   "(GPU); short for --set env.backend=...")
    t.set_defaults(func=_cmd_train)

    c = sub.add_parser("config", help="list every env.* and train.* key of a task (what --set takes) with its type, "
                       "value and docstring")
    c.add_argument("prefix", nargs="?", default=None, metavar="KEY_PREFIX",
                   help="only keys equal to or under this one, e.g. env.events")
    c.add_argument("--task", required=True)
    c.add_argument("--algo", default=None, choices=["fpo", "ppo"],
                   help="leave out the other algorithm's train sections (default: list both)")
    c.add_argument("--config", default=None, metavar="YAML", help="show the values with this YAML file applied")
    c.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="show the values with this applied")
    c.set_defaults(func=_cmd_config)

    p = sub.add_parser("play", help="run a checkpoint on the task's Play variant: video, velocity plot, JSON summary")
    add_dataclass_flags(p, PlayArgs)
    p.set_defaults(func=_cmd_play)

    e = sub.add_parser("export", help="export a checkpoint to ONNX (FPO: policy, denoiser; PPO: the Gaussian mean) and "
                       "TorchScript with deploy metadata")
    add_dataclass_flags(e, ExportArgs)
    e.set_defaults(func=_cmd_export)

    s = sub.add_parser("sim2sim", help="run an exported policy.onnx in MuJoCo with onnxruntime only (no torch)")
    s.add_argument("policy", metavar="DIR/policy.onnx", help="the exported policy, its folder, or pretrained:NAME")
    s.add_argument("--commands", default=None, metavar="VX,VY,WZ;...",
                   help="command segments (default: stand, walk 0.5 and 1.0, side-step, turn, back)")
    s.add_argument("--duration", type=float, default=3.0, help="seconds per command segment")
    s.add_argument("--video", default=None, metavar="OUT.mp4")
    s.set_defaults(func=_cmd_sim2sim)

    v = sub.add_parser("viz-bandit", help="train FPO and PPO on bandit-multimodal and plot their action samples")
    v.add_argument("--out", default="docs/bandit_modes.png")
    v.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    v.add_argument("--max-iterations", type=int, default=None)
    v.set_defaults(func=_cmd_viz_bandit)

    f = sub.add_parser("viz-flow", help="train FPO and PPO on bandit-1d and draw their flows from noise to actions "
                       "(the figures of the README's 'How FPO works')")
    f.add_argument("--out-dir", default="docs")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--max-iterations", type=int, default=None, help="training budget (default: the task's, 120)")
    f.set_defaults(func=_cmd_viz_flow)

    r = sub.add_parser("plot-runs", help="plot tensorboard scalars of several runs on one figure (FPO vs PPO)")
    r.add_argument("runs", nargs="+", metavar="RUN_DIR")
    r.add_argument("--out", default="runs.png")
    r.add_argument("--tags", nargs="+", default=None, help="scalar tags (default: episode length, tracking rewards)")
    r.add_argument("--smooth", type=int, default=10, help="moving-average window in iterations")
    r.add_argument("--x", default="iteration", choices=["iteration", "env_steps", "wall_clock"],
                   help="x axis: iteration, env steps (millions) or training wall-clock (minutes)")
    r.set_defaults(func=_cmd_plot_runs)

    b = sub.add_parser("bench", help="benchmarks: train (PPO and FPO iterations vs raw physics), learner (FPO vs PPO "
                       "update), env (full env vs raw physics), inference (ONNX latency per K), modes (mode keeping "
                       "of FPO and PPO on the multimodal bandits)")
    b.add_argument("what", choices=["train", "learner", "env", "inference", "modes"])
    b.add_argument("--task", default="G1-Flat", help="train, env: the task to time")
    b.add_argument("--num-envs", type=lambda s: [int(x) for x in s.split(",")], default=None,
                   help="learner: batch envs (default 1024); env: comma-separated sizes (default 64,256); "
                   "train: env count (default: the task's)")
    b.add_argument("--ks", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4, 8, 16, 32, 64],
                   help="inference: flow steps K to time")
    b.add_argument("--num-steps", type=int, default=24, help="learner: rollout steps per env")
    b.add_argument("--epochs", type=int, default=5, help="learner: learning epochs of both algorithms")
    b.add_argument("--repeats", type=int, default=3, help="learner: timed updates; train: timed iterations per algorithm")
    b.add_argument("--tasks", type=lambda s: s.split(","), default=None, help="modes: bandits (default: the family)")
    b.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2], help="modes: seeds")
    b.add_argument("--algos", type=lambda s: s.split(","), default=["fpo", "ppo"], help="modes: fpo, ppo or both")
    b.add_argument("--budgets", type=lambda s: [int(x) for x in s.split(",")], default=[150, 600],
                   help="modes: training iterations at which the samples are measured")
    b.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="modes: config overrides under test; train: env.* / train.* overrides of both recipes")
    b.set_defaults(func=_cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("MUJOCO_GL", "egl")  # headless offscreen rendering unless the user chose otherwise
    args = build_parser().parse_args(argv)
    try:
        _import_user_modules(args.imports)
        args.func(args)
    except UserError as e:
        print(f"fpo-loco {args.command}: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
