"""``fpo-loco plot-runs``: curves and first/last summary from real tensorboard event files."""

from __future__ import annotations

import pytest
from torch.utils.tensorboard import SummaryWriter

from fpo_locomotion.errors import ConfigError
from fpo_locomotion.plot_runs import plot_runs, x_values


def write_run(path, slope: float) -> None:
    writer = SummaryWriter(log_dir=str(path))
    for it in range(30):
        writer.add_scalar("Train/mean_episode_length", 40 + slope * it, it)
    writer.close()


def test_plot_runs_writes_png_and_summarizes_first_and_last_iterations(tmp_path):
    write_run(tmp_path / "fpo", slope=1.0)
    write_run(tmp_path / "ppo", slope=2.0)
    out = tmp_path / "docs" / "curves.png"
    rows = plot_runs([str(tmp_path / "fpo"), str(tmp_path / "ppo")], str(out),
                     tags=("Train/mean_episode_length", "Metrics/not_logged"), smooth=5, window=10)
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"
    by_run = {r["run"]: r for r in rows}
    assert set(by_run) == {"fpo", "ppo"}  # the tag no run logged has no row
    assert by_run["fpo"]["first"] == pytest.approx(44.5) and by_run["fpo"]["last"] == pytest.approx(64.5)
    assert by_run["ppo"]["last"] == pytest.approx(40 + 2 * 24.5) and by_run["ppo"]["iterations"] == "0-29"


def test_x_axes_are_env_steps_from_the_run_config_and_summed_training_time(tmp_path):
    writer = SummaryWriter(log_dir=str(tmp_path))
    for it in range(5):
        writer.add_scalar("Perf/collection_time", 1.0, it)
        writer.add_scalar("Perf/learning_time", 2.0, it)
    writer.close()
    (tmp_path / "config.yaml").write_text("num_envs: 512\ntrain:\n  runner:\n    num_steps_per_env: 24\n")
    assert x_values(str(tmp_path), [0, 4], "env_steps").tolist() == pytest.approx([512 * 24 / 1e6, 5 * 512 * 24 / 1e6])
    assert x_values(str(tmp_path), [0, 4], "wall_clock").tolist() == pytest.approx([3 / 60, 15 / 60])
    with pytest.raises(ConfigError, match="--x seconds: valid are iteration, env_steps, wall_clock"):
        plot_runs([str(tmp_path)], str(tmp_path / "out.png"), x="seconds")
