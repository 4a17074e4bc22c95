"""The multimodal bandit family: every mode pays 1 at its centre and counts its own samples; bench modes runs."""

import pytest
import torch

from fpo_locomotion.bench.modes import bench_modes
from fpo_locomotion.tasks import get_task
from fpo_locomotion.tasks.bandit_multimodal import BANDIT_FAMILY


@pytest.mark.parametrize("task", ["bandit-multimodal", *BANDIT_FAMILY])
def test_each_mode_peaks_at_one_and_counts_its_own_samples(task):
    spec = get_task(task)
    env = spec.make_env(spec.env_cfg(), num_envs=4)
    centres = env.modes  # [M, 2]
    assert env.reward(centres).tolist() == pytest.approx([1.0] * len(centres))
    shares, in_mode = env.mode_shares(centres)
    assert shares == pytest.approx([1.0 / len(centres)] * len(centres)) and in_mode == 1.0
    far = torch.full((8, 2), 5.0)
    assert env.mode_shares(far) == ([0.0] * len(centres), 0.0)
    # a quarter of the peak at 1.665 widths from a centre: just inside, just outside
    edge = centres[:1] + torch.tensor([[1.66, 0.0], [1.67, 0.0]]) * env.widths[0]
    assert (env.bumps(edge)[:, 0] >= 0.25).tolist() == [True, False]


def test_bench_modes_reports_every_mode_at_every_budget(capsys):
    rows = bench_modes(tasks=["bandit-row3"], algos=("fpo",), seeds=[0], budgets=[2, 1])
    assert [r["budget"] for r in rows] == [1, 2] and all(len(r["shares"]) == 3 for r in rows)
    assert "bandit-row3       fpo: it 1: " in capsys.readouterr().out
