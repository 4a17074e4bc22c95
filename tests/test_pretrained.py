"""The shipped policies (resources/pretrained/): loadable by name everywhere, and they walk where commanded."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import onnxruntime as ort
import pytest
import torch

from fpo_locomotion.checkpoints import resolve_checkpoint
from fpo_locomotion.errors import CheckpointError
from fpo_locomotion.export import export_policy
from fpo_locomotion.play import play
from fpo_locomotion.pretrained import pretrained_file, pretrained_names

COMMAND = (0.5, 0.0, 0.0)


def test_both_policies_ship_with_checkpoint_onnx_and_the_command_that_trained_them():
    assert pretrained_names() == ["fpo", "ppo"]
    for name in pretrained_names():
        folder = os.path.dirname(pretrained_file(f"pretrained:{name}", "model.pt"))
        assert {"model.pt", "policy.onnx", "README.md"} <= set(os.listdir(folder))
        assert f"fpo-loco train --task G1-Flat --algo {name}" in open(os.path.join(folder, "README.md")).read()
        infos = torch.load(os.path.join(folder, "model.pt"), weights_only=True)["infos"]
        assert infos["task"] == "G1-Flat" and infos["algo"] == name
    with pytest.raises(CheckpointError, match="No pretrained policy 'sac'. Shipped: pretrained:fpo, pretrained:ppo"):
        resolve_checkpoint("pretrained:sac", "G1-Flat")


@pytest.mark.parametrize("name", ["fpo", "ppo"])
def test_shipped_onnx_is_the_export_of_the_shipped_checkpoint(name, tmp_path):
    shipped = pretrained_file(f"pretrained:{name}", "policy.onnx")
    fresh = export_policy(pretrained_file(f"pretrained:{name}", "model.pt"), str(tmp_path))["paths"]["policy"]
    obs = np.random.default_rng(0).standard_normal((16, 47)).astype(np.float32)
    run = [ort.InferenceSession(p, providers=["CPUExecutionProvider"]).run(None, {"obs": obs})[0] for p in (shipped, fresh)]
    np.testing.assert_allclose(run[0], run[1], atol=1e-5)


@pytest.mark.parametrize("name", ["fpo", "ppo"])
def test_pretrained_policy_walks_forward_in_play(name, tmp_path):
    result = play(f"pretrained:{name}", "G1-Flat", commands=",".join(map(str, COMMAND)), duration=4.0, num_envs=4,
                  render=False, log_root=str(tmp_path))
    (segment,) = result["segments"]
    assert result["falls"] == 0
    assert np.hypot(*(np.array(segment["mean_velocity"][:2]) - COMMAND[:2])) < 0.2, segment  # measured: 0.10-0.15
    assert result["plot"].startswith(str(tmp_path / "pretrained" / name))  # outputs never go into the package


def test_sim2sim_runs_the_pretrained_fpo_policy_by_name_without_torch():
    script = textwrap.dedent(f"""
        import json, sys
        from fpo_locomotion.sim2sim import run_sim2sim
        result = run_sim2sim("pretrained:fpo", {",".join(map(str, COMMAND))!r}, duration=4.0)
        assert "torch" not in sys.modules
        print("RESULT " + json.dumps(result))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    (segment,) = json.loads(done.stdout.split("RESULT ", 1)[1])["segments"]
    assert segment["falls"] == 0 and abs(segment["mean_velocity"][0] - COMMAND[0]) < 0.2, segment


def test_shipped_files_are_not_git_ignored():
    """A policy that exists only in the developer's checkout (ignored as *.pt / *.onnx) never reaches a user."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isdir(os.path.join(repo, ".git")):
        pytest.skip("not a git checkout")
    paths = [f"resources/pretrained/{name}/{file}" for name in ("fpo", "ppo") for file in ("model.pt", "policy.onnx")]
    ignored = subprocess.run(["git", "check-ignore", *paths], cwd=repo, capture_output=True, text=True).stdout.split()
    assert ignored == []


@pytest.mark.parametrize("name", ["fpo", "ppo"])
def test_the_defaults_are_the_shipped_policies_recipe(name):
    """``fpo-loco train --task G1-Flat --algo NAME`` resolves to the config its shipped policy was trained with, up to
    the physics thread count (both runs' last commands gave physics one thread)."""
    from fpo_locomotion.checkpoints import load_checkpoint, saved_env_cfg, saved_train_cfg
    from fpo_locomotion.train import resolve_configs

    infos = load_checkpoint(pretrained_file(f"pretrained:{name}", "model.pt"))["infos"]
    threads = infos["env_cfg"]["num_threads"]
    spec, env_cfg, train_cfg = resolve_configs("G1-Flat", None, (f"env.num_threads={threads}",), algo=name)
    assert infos["algo"] == name
    assert dataclasses.asdict(saved_env_cfg(infos, spec)) == dataclasses.asdict(env_cfg)
    assert dataclasses.asdict(saved_train_cfg(infos)) == dataclasses.asdict(train_cfg)
