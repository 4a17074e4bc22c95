"""A training run killed with SIGKILL resumes from its last complete checkpoint and continues exactly."""

import glob
import os
import signal
import subprocess
import sys
import time

import torch

from fpo_locomotion.checkpoints import latest_checkpoint, load_checkpoint
from fpo_locomotion.train import TrainArgs, train

OVERRIDES = ("train.runner.num_steps_per_env=8", "train.runner.save_interval=1", "train.fpo.ema_decay=0.9")


def test_sigkill_mid_run_then_resume(tmp_path):
    cmd = [sys.executable, "-m", "fpo_locomotion.cli", "train", "--task", "point-mass-joystick", "--num-envs", "16",
           "--max-iterations", "500", "--log-root", str(tmp_path)]
    for pair in OVERRIDES:
        cmd += ["--set", pair]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 240
    while time.time() < deadline and len(glob.glob(f"{tmp_path}/*/*/model_*.pt")) < 3:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (run_dir,) = glob.glob(f"{tmp_path}/point-mass-joystick/*")
    last = latest_checkpoint(run_dir)
    before = load_checkpoint(last)  # the newest complete checkpoint loads (a half-written one is only a .tmp)
    k = before["iter"]
    assert k >= 2

    args = TrainArgs(task="point-mass-joystick", num_envs=16, max_iterations=k + 2, log_root=str(tmp_path),
                     resume=run_dir, overrides=OVERRIDES)
    assert train(args) == run_dir
    after = load_checkpoint(f"{run_dir}/model_{k + 1}.pt")
    assert after["iter"] == k + 1
    # the optimizer continued: Adam's step count grew by exactly one update's worth of minibatch steps
    steps = lambda ckpt: ckpt["optimizer_state_dict"]["state"][0]["step"].item()  # noqa: E731
    cfg = before["infos"]["train_cfg"]["fpo"]
    assert steps(after) == steps(before) + cfg["num_learning_epochs"] * cfg["num_mini_batches"]
    assert after["fpo_num_updates"] == before["fpo_num_updates"] + 1
    assert after["log_totals"]["timesteps"] == before["log_totals"]["timesteps"] + 16 * 8
    # normalizer statistics and EMA weights were restored, then updated once
    count = "obs_normalizer.count"
    assert after["actor_state_dict"][count] == before["actor_state_dict"][count] + 16 * 8
    assert not torch.equal(after["ema_actor_state_dict"]["net.obs_layer.weight"],
                           before["ema_actor_state_dict"]["net.obs_layer.weight"])


def test_resume_takes_the_learning_rate_given_now(tmp_path):
    """``--set train.fpo.learning_rate=...`` on ``--resume`` wins over the rate stored in the optimizer state (FPO.load)."""
    common = dict(task="bandit-multimodal", num_envs=4, log_root=str(tmp_path))
    run_dir = train(TrainArgs(max_iterations=1, **common))
    train(TrainArgs(max_iterations=2, resume=run_dir, overrides=("train.fpo.learning_rate=1e-4",), **common))
    lrs = {g["lr"] for g in load_checkpoint(f"{run_dir}/model_1.pt")["optimizer_state_dict"]["param_groups"]}
    assert lrs == {1e-4}


def test_resume_keeps_the_runs_own_config(tmp_path):
    """A resumed run trains on the env and train config it was started with, not today's defaults; --set still wins."""
    common = dict(task="bandit-multimodal", num_envs=4, log_root=str(tmp_path))
    run_dir = train(TrainArgs(max_iterations=1, overrides=("train.fpo.clip_param=0.1", "env.widths=[0.2, 0.2]"), **common))
    train(TrainArgs(max_iterations=2, resume=run_dir, overrides=("train.fpo.learning_rate=1e-4",), **common))
    infos = load_checkpoint(f"{run_dir}/model_1.pt")["infos"]
    assert infos["train_cfg"]["fpo"]["clip_param"] == 0.1 and infos["env_cfg"]["widths"] == [0.2, 0.2]
    assert infos["train_cfg"]["fpo"]["learning_rate"] == 1e-4
