"""play: a G1 checkpoint on G1-Flat-Play writes a video, a velocity plot and a summary headless; bad checkpoints are refused."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering; must precede the first `import mujoco`

import json

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
from helpers import save_untrained

from fpo_locomotion.errors import CheckpointError
from fpo_locomotion.play import _mean_trace, play


@pytest.fixture(scope="module")
def g1_checkpoint(tmp_path_factory):
    return save_untrained(tmp_path_factory.mktemp("g1") / "model_0.pt")


def test_play_writes_video_plot_and_summary_headless(g1_checkpoint, tmp_path):
    video = tmp_path / "out" / "play.mp4"
    result = play(g1_checkpoint, "G1-Flat", commands="0,0,0;0.5,0,0", duration=1.0, video=str(video), num_envs=2,
                  fps=5, width=160, height=120, settle_s=0.5)
    frames = [f for f in imageio.get_reader(str(video))]
    assert len(frames) == 10 and frames[0].shape == (120, 160, 3)
    assert np.std(frames[len(frames) // 2]) > 5  # a picture, not a blank frame
    plot = tmp_path / "out" / "play_velocity.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
    summary = json.load(open(tmp_path / "out" / "play_summary.json"))
    assert summary == json.loads(json.dumps(result))
    assert summary["task"] == "G1-Flat" and summary["play_task"] == "G1-Flat-Play" and summary["weights"] == "ema"
    assert summary["duration_s"] == pytest.approx(2.0) and summary["num_envs"] == 2
    assert [s["command"] for s in summary["segments"]] == [[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]]
    assert summary["segments"][0]["lin_vel_error"] >= 0 and isinstance(summary["falls"], int)
    assert all(s["reached_s"] is None or 0 <= s["reached_s"] <= 0.5 for s in summary["segments"])
    assert 0 < summary["mean_episode_length_s"] <= 2.0


def test_play_runs_a_ppo_checkpoint_without_video(tmp_path):
    checkpoint = save_untrained(tmp_path / "model_0.pt", algo="ppo")
    result = play(checkpoint, "G1-Flat-Play", commands="0.3,0,0", duration=0.4, render=False)
    assert result["algo"] == "ppo" and result["video"] is None and os.path.isfile(result["plot"])


def test_disturbed_play_is_one_draw_per_seed(g1_checkpoint, tmp_path):
    def measured(seed):
        result = play(g1_checkpoint, "G1-Flat", commands="0.3,0,0", duration=1.0, render=False, num_envs=2,
                      seed=seed, disturbed=True, video=str(tmp_path / f"s{seed}.mp4"), settle_s=0.5)
        assert result["seed"] == seed
        return result["segments"][0]["mean_velocity"]

    assert measured(0) == measured(0) != measured(1)


def test_play_refuses_checkpoints_that_do_not_fit(g1_checkpoint, tmp_path):
    toy = save_untrained(tmp_path / "pm.pt", task="point-mass-joystick")
    with pytest.raises(CheckpointError, match="trained on task 'point-mass-joystick', not 'G1-Flat'"):
        play(toy, "G1-Flat", render=False)
    saved = torch.load(g1_checkpoint, weights_only=True)
    saved["infos"]["obs_dims"] = {"policy": 45, "critic": 61}
    torch.save(saved, tmp_path / "other_obs.pt")
    with pytest.raises(CheckpointError, match="obs_dims"):
        play(str(tmp_path / "other_obs.pt"), "G1-Flat", render=False)
    (tmp_path / "broken.pt").write_bytes(open(g1_checkpoint, "rb").read()[:5000])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        play(str(tmp_path / "broken.pt"), "G1-Flat", render=False)


def test_the_mean_trace_lines_up_envs_by_their_steps_into_the_segment():
    # env 1 fell after step 1 and restarted its schedule: its steps into the segment lag env 0's by two
    offset = np.array([[0, 0], [1, 1], [2, 0], [3, 1]])           # [T, N]
    in_segment = np.ones((4, 2), dtype=bool)
    measured = np.arange(24, dtype=float).reshape(4, 2, 3)      # [T, N, 3]
    trace = _mean_trace(measured, offset, in_segment)
    assert trace.shape == (4, 3)
    np.testing.assert_allclose(trace[0], (measured[0, 0] + measured[0, 1] + measured[2, 1]) / 3)
    np.testing.assert_allclose(trace[3], measured[3, 0])
