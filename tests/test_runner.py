"""Runner: trains, saves atomically, reloads with weights_only and continues at the next iteration."""

import glob
import os

import pytest
import torch

from fpo_locomotion.checkpoints import load_checkpoint
from fpo_locomotion.errors import CheckpointError
from fpo_locomotion.train import TrainArgs, make_env, make_runner, resolve_configs, train


@pytest.mark.parametrize("algo", ["fpo", "ppo"])
def test_train_save_reload_continue(tmp_path, algo):
    args = TrainArgs(task="point-mass-joystick", algo=algo, num_envs=8, max_iterations=2, log_root=str(tmp_path),
                     overrides=("train.runner.num_steps_per_env=4", "train.runner.save_interval=1"))
    run_dir = train(args)
    assert sorted(os.path.basename(p) for p in glob.glob(f"{run_dir}/model_*.pt")) == ["model_0.pt", "model_1.pt"]
    assert os.path.isfile(f"{run_dir}/config.yaml") and glob.glob(f"{run_dir}/events.out.tfevents.*")
    saved = load_checkpoint(f"{run_dir}/model_1.pt")  # weights_only=True inside
    assert saved["iter"] == 1 and saved["infos"]["task"] == "point-mass-joystick" and saved["infos"]["algo"] == algo

    args.max_iterations, args.resume = 4, run_dir
    assert train(args) == run_dir
    assert os.path.isfile(f"{run_dir}/model_3.pt") and not glob.glob(f"{run_dir}/*.tmp")
    resumed = load_checkpoint(f"{run_dir}/model_3.pt")
    assert resumed["iter"] == 3
    assert any(not torch.equal(saved["actor_state_dict"][k], resumed["actor_state_dict"][k])
               for k in saved["actor_state_dict"])


def test_load_restores_weights_and_iteration(tmp_path):
    args = TrainArgs(task="bandit-multimodal", num_envs=8, max_iterations=1, log_root=str(tmp_path),
                     overrides=("train.runner.num_steps_per_env=2",))
    checkpoint = f"{train(args)}/model_0.pt"
    spec, env_cfg, train_cfg = resolve_configs("bandit-multimodal")
    env = make_env(spec, env_cfg, 8, "cpu", 0)
    runner = make_runner(spec, env, env_cfg, train_cfg, "fpo", None, "cpu")
    runner.load(checkpoint)
    assert runner.current_learning_iteration == 1
    saved = load_checkpoint(checkpoint)["actor_state_dict"]
    assert all(torch.equal(v, runner.alg.actor.state_dict()[k]) for k, v in saved.items())

    other = make_runner(spec, env, env_cfg, train_cfg, "ppo", None, "cpu")
    with pytest.raises(CheckpointError, match="algo"):
        other.load(checkpoint)


def test_corrupt_and_missing_checkpoints_have_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(str(tmp_path / "nope.pt"))
    bad = tmp_path / "model_3.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(str(bad))


@pytest.mark.parametrize("algo", ["fpo", "ppo"])
def test_mixed_precision_warns_where_the_cpu_emulates_bf16(tmp_path, algo, recwarn):
    """bf16 autocast on a CPU without bf16 instructions is slower than float32: train says so, and only there."""
    train(TrainArgs(task="bandit-multimodal", algo=algo, num_envs=4, max_iterations=1, log_root=str(tmp_path),
                    overrides=(f"train.{algo}.use_mixed_precision=true",)))
    emulated = not torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert any("bf16 is emulated" in str(w.message) for w in recwarn) == emulated
