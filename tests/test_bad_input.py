"""Bad input, tried as a new user would: one line naming the problem and the fix, exit status 2, no traceback,
and nothing left behind (no run folder, no temp file)."""

import os
import shutil
import signal

import onnx
import pytest
import torch
from helpers import randomize_flow_policy, save_untrained

from fpo_locomotion import runner as runner_module
from fpo_locomotion.algorithms.fpo import FPO
from fpo_locomotion.cli import main
from fpo_locomotion.errors import ConfigError
from fpo_locomotion.export import export_policy
from fpo_locomotion.train import TrainArgs, train

FAST = ["--task", "bandit-multimodal", "--num-envs", "4", "--max-iterations", "1"]


def fails(capsys, argv: list[str], message: str) -> str:
    """Run the CLI; assert exit 2, one error line holding ``message`` (a progress bar may precede it), no
    traceback. Returns the error line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert exit_info.value.code == 2 and "Traceback" not in err, err
    assert len(errors) == 1 and message in errors[0], err
    return errors[0]


@pytest.mark.parametrize(("args", "message"), [
    (["--max-iterations", "-1"], "--max-iterations must be a positive integer"),
    (["--max-iterations", "0"], "--max-iterations must be a positive integer"),
    (["--num-envs", "-5"], "--num-envs must be a positive integer, got -5"),
    (["--set", "train.runner.num_steps_per_env=0"], "'train.runner.num_steps_per_env' must be positive, got 0"),
    (["--set", "train.flow_actor.flow_steps=0"], "'train.flow_actor.flow_steps' must be positive, got 0"),
    (["--set", "train.flow_actor.num_mc=0"], "'train.flow_actor.num_mc' must be positive, got 0"),
    (["--set", "train.fpo.num_mini_batches=0"], "'train.fpo.num_mini_batches' must be positive"),
    (["--set", "train.critic.hidden_dims=[]"], "'train.critic.hidden_dims' must be a non-empty list"),
    (["--task", "G1-Flat", "--set", "env.events.friction.params.range=[0.1]"],
     "'env.events.friction.params': [0.1] is not a [low, high] pair"),
    (["--task", "G1-Flat", "--set", "env.events.friction.params.range=[1.0,0.5]"], "low 1.0 > high 0.5"),
    (["--task", "G1-Flat", "--set", "env.events.push.mode=sometimes"],
     "'env.events.push.mode': 'sometimes' is not one of reset, interval"),
    (["--task", "G1-Flat", "--set", "env.events.push.interval_s=0"], "an interval event needs interval_s > 0"),
    (["--task", "G1-Flat", "--set", "env.events.push.params.max_vel=1"], "takes no parameter(s) ['max_vel']"),
    (["--task", "G1-Flat", "--set", "env.commands.lin_vel_x=[0,1,2]"], "is not a [low, high] pair"),
    (["--task", "G1-Flat", "--set", "env.observations.history_length=0"],
     "'env.observations.history_length': frames per policy term, a positive integer (1: no history), got 0"),
    (["--set", "train.runner.torch_compile_mode=reduce-overhead"],
     "'train.runner.torch_compile_mode' must be null (off), default or max-autotune-no-cudagraphs"),
    (["--set", "train.flow_actor.estimator_hidden_dims=[0]"],
     "'train.flow_actor.estimator_hidden_dims' must be a list of positive layer widths (empty: no estimator)"),
    (["--set", "train.flow_actor.estimator_hidden_dims=[64]"],
     "flow_actor.estimator_hidden_dims needs the env's 'estimated' observation group"),
    (["--task", "G1-Flat", "--set", "env.observations.estimated.base_lin_vel.func=base_lin_vel", "--algo", "ppo"],
     "env.observations.estimated lists terms, but no actor estimates them: set train.flow_actor.estimator_hidden_dims"),
])
def test_bad_train_values_leave_no_run_folder(tmp_path, capsys, args, message):
    fails(capsys, ["train", "--log-root", str(tmp_path), *FAST, *args], message)
    assert os.listdir(tmp_path) == []


def test_compiling_without_a_cpp_compiler_names_the_fix(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-g++"))
    fails(capsys, ["train", "--log-root", str(tmp_path / "logs"), *FAST, "--set", "train.runner.torch_compile_mode=default"],
          "needs a C++ compiler for torch.compile")
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize(("yaml_text", "section"), [("train: [1, 2]\n", "train"), ("env: 5\n", "env")])
def test_yaml_section_that_is_not_a_mapping(tmp_path, capsys, yaml_text, section):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml_text)
    fails(capsys, ["train", "--log-root", str(tmp_path / "logs"), *FAST, "--config", str(cfg)],
          f"The '{section}:' section must be a mapping")
    assert not (tmp_path / "logs").exists()


def test_unwritable_log_root(tmp_path, capsys):
    blocker = tmp_path / "a_file"  # as root, permissions do not stop writes; a file in the path does
    blocker.write_text("")
    fails(capsys, ["train", "--log-root", str(blocker / "logs"), *FAST], "Cannot write the run folder")


def test_resume_of_a_finished_run_says_how_to_go_on(tmp_path, capsys):
    run_dir = train(TrainArgs(task="bandit-multimodal", num_envs=4, max_iterations=1, log_root=str(tmp_path)))
    fails(capsys, ["train", "--log-root", str(tmp_path), *FAST, "--resume", run_dir],
          "is already at iteration 0 of 1; pass a larger --max-iterations")


@pytest.fixture(scope="module")
def bandit_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("logs")
    return train(TrainArgs(task="bandit-multimodal", num_envs=4, max_iterations=1, log_root=str(root))), root


def test_other_model_files_in_a_run_folder_are_ignored(bandit_run, tmp_path, capsys):
    run_dir, _ = bandit_run
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    shutil.copy(folder / "model_0.pt", folder / "model_final.pt")
    (folder / "model_best.pt").write_text("not a checkpoint")
    main(["export", str(folder), "--out", str(tmp_path / "out")])
    assert "Exported" in capsys.readouterr().out and (tmp_path / "out" / "policy.onnx").is_file()
    for name in os.listdir(folder):
        if name.startswith("model_0"):
            os.remove(folder / name)
    fails(capsys, ["export", str(folder)], "No model_<iteration>.pt checkpoint in")


def test_export_with_the_wrong_task(bandit_run, tmp_path, capsys):
    run_dir, _ = bandit_run
    fails(capsys, ["export", run_dir, "--task", "G1-Flat", "--out", str(tmp_path / "out")],
          "was trained on task 'bandit-multimodal', not 'G1-Flat'")
    assert not (tmp_path / "out").exists()


def test_export_names_the_checkpoint_once(bandit_run, capsys):
    run_dir, _ = bandit_run
    fails(capsys, ["export", run_dir, "--checkpoint", run_dir], "Name the checkpoint once")


def test_full_disk_during_save_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    real_save = torch.save

    def save_then_fail(obj, path, *args, **kwargs):
        if str(path).endswith("model_1.pt.tmp"):
            with open(path, "wb") as f:
                f.write(b"half")
            raise OSError(28, "No space left on device")
        real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(runner_module.torch, "save", save_then_fail)
    err = fails(capsys, ["train", "--log-root", str(tmp_path), "--task", "bandit-multimodal", "--num-envs", "4",
                         "--max-iterations", "2", "--set", "train.runner.save_interval=1"],
                "Could not write checkpoint")
    assert "the last good checkpoint is model_0.pt" in err
    (run_dir,) = (tmp_path / "bandit-multimodal").iterdir()
    assert sorted(p.name for p in run_dir.glob("model_*")) == ["model_0.pt"]


@pytest.mark.parametrize("stop", ["ctrl_c", "sigterm"])
def test_ctrl_c_or_sigterm_names_the_last_checkpoint(stop, tmp_path, monkeypatch, capsys):
    def learn_then_interrupt(self, *args, **kwargs):
        self.save(os.path.join(self.logger.log_dir, "model_0.pt"))
        if stop == "sigterm":  # a real signal to this process: kill, or a cluster scheduler's stop
            os.kill(os.getpid(), signal.SIGTERM)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner_module.FpoRunner, "learn", learn_then_interrupt)
    err = fails(capsys, ["train", "--log-root", str(tmp_path), *FAST], "Interrupted. Last checkpoint: ")
    assert "model_0.pt; continue with --resume" in err


def test_fpo_refuses_rsl_rl_options_it_does_not_implement_and_bad_prior_kl(tmp_path):
    from fpo_locomotion.train import make_env, make_runner, resolve_configs

    spec, env_cfg, train_cfg = resolve_configs("bandit-multimodal")
    env = make_env(spec, env_cfg, 4, "cpu", 0)
    alg = make_runner(spec, env, env_cfg, train_cfg, "fpo", None, "cpu").alg
    for option in ({"symmetry_cfg": {"use_mirror_loss": True}}, {"rnd_cfg": {"weight": 1.0}},
                   {"entropy_coef": 0.01}, {"schedule": "adaptive"}):
        with pytest.raises(ConfigError, match="FPO does not implement rsl_rl's"):
            FPO(alg.actor, alg.critic, alg.storage, **option)
    with pytest.raises(ConfigError, match="prior_kl_coef must be >= 0 and prior_std, prior_power > 0"):
        FPO(alg.actor, alg.critic, alg.storage, prior_kl_coef=0.1, prior_std=0.0)
    alg.actor.action_perturb_std = 0.1
    with pytest.raises(ConfigError, match="set flow_actor.action_perturb_std=0"):
        FPO(alg.actor, alg.critic, alg.storage, prior_kl_coef=0.1)


@pytest.fixture(scope="module")
def g1_onnx(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("g1")
    checkpoint = randomize_flow_policy(save_untrained(tmp / "model_0.pt", "G1-Flat"))
    return export_policy(checkpoint, str(tmp / "exported"), flow_steps=2)["paths"]["policy"]


@pytest.mark.parametrize(("key", "value", "message"), [
    ("obs_dim", "48", "obs_dim 48 but the graph takes 47 inputs"),
    ("kp", "[1.0, 2.0]", "kp has 2 values for 12 joints"),
    ("observation_terms", '[{"name": "x", "size": 3}]', "observation terms total 3 values, obs_dim is 47"),
    ("kd", "[1.0,", "metadata key 'kd' is not JSON"),
])
def test_sim2sim_refuses_metadata_that_does_not_fit(g1_onnx, tmp_path, capsys, key, value, message):
    model = onnx.load(g1_onnx)
    props = {p.key: p.value for p in model.metadata_props}
    props[key] = value
    onnx.helper.set_model_props(model, props)
    bad = tmp_path / "policy.onnx"
    onnx.save(model, bad)
    fails(capsys, ["sim2sim", str(bad), "--duration", "0.1"], message)


def test_pretrained_names_are_checked(capsys):
    fails(capsys, ["export", "pretrained:nope"], "No pretrained policy 'nope'")
    fails(capsys, ["sim2sim", "pretrained:nope"], "No pretrained policy 'nope'")
    fails(capsys, ["train", *FAST, "--resume", "pretrained:fpo"], "a run resumes in its own folder")


@pytest.mark.parametrize(("argv", "message"), [
    (["plot-runs", "/nonexistent/run", "--out", "x.png"], "No tensorboard events in /nonexistent/run"),
    (["bench", "env", "--num-envs", "0"], "must be positive integers"),
    (["bench", "train", "--repeats", "0"], "must be positive integers"),
    (["play", "--task", "G1-Flat", "--checkpoint", "pretrained:fpo", "--seed", "-1"], "--seed must be a non-negative"),
    (["train", *FAST, "--run-name", "a/../../b"], "--run-name 'a/../../b' must be a plain folder-name suffix"),
])
def test_more_bad_flags(tmp_path, capsys, argv, message):
    if argv[0] == "train":
        argv = [*argv, "--log-root", str(tmp_path)]
    fails(capsys, argv, message)
    assert os.listdir(tmp_path) == []


def test_wandb_logger_without_wandb_installed(tmp_path, capsys):
    import importlib.util

    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    fails(capsys, ["train", *FAST, "--logger", "wandb", "--log-root", str(tmp_path)], "needs the wandb package")
    assert os.listdir(tmp_path) == []
