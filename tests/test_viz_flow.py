"""``fpo-loco viz-flow``: the plotted paths are the policy's own sampler, the figures are written, and
``bandit-1d`` logs its mode shares."""

import pytest
import torch
from tensordict import TensorDict

from fpo_locomotion.cli import main
from fpo_locomotion.models.flow_actor import FlowActor
from fpo_locomotion.tasks.bandit_1d import Bandit1DConfig, Bandit1DEnv
from fpo_locomotion.viz_flow import viz_flow


def test_trajectory_starts_at_the_noise_and_ends_at_the_sampled_action():
    torch.manual_seed(0)
    obs = TensorDict({"policy": torch.randn(64, 3)}, batch_size=[64])
    actor = FlowActor(obs, {"actor": ["policy"]}, "actor", 2, hidden_dims=[16, 16], flow_steps=6)
    torch.nn.init.normal_(actor.net.trunk[-1].weight, std=0.5)  # a flow that moves (the untrained one is the identity)
    latent, x0 = actor.get_latent(obs), torch.randn(64, 2)
    path = actor.sample_trajectory(latent, x0)
    assert path.shape == (7, 64, 2)
    assert torch.equal(path[0], x0) and torch.equal(path[-1], actor.sample(latent, x0))
    assert (path[-1] - x0).abs().mean() > 0.1
    torch.manual_seed(1)
    sampled = actor(obs, stochastic_output=True)  # draws x0 = randn(64, 2) first
    torch.manual_seed(1)
    assert torch.equal(actor.sample_trajectory(latent, torch.randn(64, 2))[-1], sampled)


def test_viz_flow_writes_the_figures_and_plots_the_policys_samples(tmp_path):
    results = viz_flow(out_dir=str(tmp_path), seed=0, max_iterations=3)
    for name in ("flow_marginal.png", "flow_update.png", "flow_ppo.png", "flow_particles.gif"):
        assert (tmp_path / name).stat().st_size > 1000, name
    assert torch.equal(results["fpo_paths"][0], results["noise"])
    plotted, sampled = results["fpo"], results["fpo_sampled"]  # 2000 plotted endpoints vs 2000 fresh policy samples
    for a, b in zip(plotted["mode_shares"] + [plotted["off_mode"]], sampled["mode_shares"] + [sampled["off_mode"]]):
        assert abs(a - b) < 0.06, (plotted, sampled)
    (_, target_off), (_, weighted_off) = results["update"]["target"], results["update"]["weighted_target"]
    assert weighted_off < 0.5 * target_off  # weighting by advantage moves the mass off the gaps between bumps


def test_bandit_1d_logs_mode_shares_and_off_mode():
    env = Bandit1DEnv(Bandit1DConfig(), num_envs=4)
    actions = torch.tensor([[-1.5], [0.05], [1.0], [1.45]])  # mode 0, mode 1, between modes, mode 2
    _, rewards, dones, extras = env.step(actions)
    assert extras["log"] == {"Metrics/mode_0": 0.25, "Metrics/mode_1": 0.25, "Metrics/mode_2": 0.25,
                             "Metrics/off_mode": 0.25}
    assert rewards[0] == pytest.approx(0.8) and rewards[2] < 0.2 and dones.all()


@pytest.mark.parametrize("args", [["--max-iterations", "0"], ["--out-dir", __file__]])
def test_bad_viz_flow_input_is_one_clear_line(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["viz-flow", *args])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.slow
def test_fpo_keeps_two_bumps_where_gaussian_ppo_keeps_one(tmp_path):
    results = viz_flow(out_dir=str(tmp_path), seed=0)
    fpo, ppo = results["fpo_sampled"]["mode_shares"], results["ppo"]["mode_shares"]
    assert sorted(fpo)[-2] >= 0.2 and max(ppo) >= 0.95, (fpo, ppo)
