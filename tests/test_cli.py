"""The fpo-loco command line: bad input gets one clear line and exit status 2; user tasks register from outside."""

import dataclasses
import os
import subprocess
import sys
import textwrap

import pytest

from fpo_locomotion.cli import main
from fpo_locomotion.config import ExportArgs, PlayArgs, TrainArgs, TrainConfig


def run_cli(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fpo_locomotion.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "no-such-task"], "Unknown task 'no-such-task'. Registered tasks: "),
        (["--task", "bandit-multimodal", "--num-envs", "0"], "--num-envs must be a positive integer"),
        (["--task", "bandit-multimodal", "--set", "train.fpo.clip_parm=0.1"], "Unknown config key 'train.fpo.clip_parm'"),
        (["--task", "bandit-multimodal", "--set", "train.fpo.clip_param=abc"], "'train.fpo.clip_param': 'abc' is not of type"),
        (["--task", "bandit-multimodal", "--set", "oops.x=1"], "Unknown config section"),
        (["--task", "bandit-multimodal", "--config", "missing.yaml"], "Config file 'missing.yaml' does not exist"),
        (["--task", "bandit-multimodal", "--resume", "nowhere/model_3.pt"], "Checkpoint 'nowhere/model_3.pt' does not exist"),
        (["--task", "G1-Flat", "--backend", "bullet"], "Unknown backend 'bullet'"),
        (["--task", "bandit-multimodal", "--backend", "mujoco"], "Unknown config key 'env.backend'"),
        (["--task", "G1-Flat", "--device", "cuda"], "asks for a GPU but torch sees none"),
    ],
)
def test_bad_train_input_is_one_clear_line(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--log-root", str(tmp_path), *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_yaml_with_unknown_section_is_rejected(tmp_path, capsys):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("train:\n  fpo:\n    clip_param: 0.1\nenvv: {}\n")
    with pytest.raises(SystemExit):
        main(["train", "--task", "bandit-multimodal", "--config", str(cfg), "--log-root", str(tmp_path)])
    assert "must be a mapping with 'env:' and/or 'train:' sections" in capsys.readouterr().err


def test_user_task_registered_from_outside_trains_with_fpo(tmp_path):
    (tmp_path / "my_tasks.py").write_text(textwrap.dedent("""
        from fpo_locomotion.tasks import TaskSpec, register_task
        from fpo_locomotion.tasks.point_mass_joystick import PointMassConfig, PointMassJoystickEnv, point_mass_train_config

        def my_config():
            cfg = point_mass_train_config()
            cfg.runner.num_steps_per_env = 4
            return cfg

        register_task(TaskSpec("my-slow-point-mass", PointMassJoystickEnv, lambda: PointMassConfig(gain=1.0),
                               my_config, default_num_envs=8))
    """))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "OMP_NUM_THREADS": "1"}
    result = run_cli("--import", "my_tasks", "train", "--task", "my-slow-point-mass", "--algo", "fpo",
                     "--max-iterations", "2", "--log-root", str(tmp_path / "logs"), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "logs" / "my-slow-point-mass").glob("*_fpo/model_1.pt"))


def test_unknown_import_module_is_reported():
    result = run_cli("--import", "not_a_module_xyz", "train", "--task", "bandit-multimodal")
    assert result.returncode == 2 and "cannot import it" in result.stderr


@pytest.mark.parametrize(("command", "args_class", "sample"), [
    ("train", TrainArgs, "--num-envs NUM_ENVS Parallel envs (default: the task's, 512 for G1-Flat)."),
    ("play", PlayArgs, "--no-video Skip rendering (plot and summary only)."),
    ("export", ExportArgs, "--no-ema Export the trained actor instead of its EMA."),
])
def test_help_is_the_args_dataclass_documentation(capsys, command, args_class, sample):
    """Every field of the command's dataclass is a flag (or the positional) whose help is its docstring."""
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for f in dataclasses.fields(args_class):
        assert f.metadata.get("metavar", "") in out if f.metadata.get("positional") else \
            f.metadata.get("flag", "--" + f.name.replace("_", "-")) in out
    assert sample in out
    if command == "train":  # the epilog lists the config sections
        assert all(f"train.{f.name}" in out for f in dataclasses.fields(TrainConfig)) and "env.*" in out
