"""Flow actor: zero-sampling, batched CFM loss, fitting, rsl_rl contract shapes."""

import math

import pytest
import torch
from tensordict import TensorDict

from fpo_locomotion.models.flow_actor import FlowActor
from fpo_locomotion.models.flow_policy import UnrolledFlowPolicy
from fpo_locomotion.models.velocity_net import VelocityNet, cfm_loss, euler_sample, euler_sample_log_prob

OBS_DIM, ACT_DIM = 5, 3


def make_actor(trained_like: bool = True, **kwargs) -> FlowActor:
    """A small actor; ``trained_like`` gives the (zero-initialized) output layer random weights."""
    torch.manual_seed(0)
    obs = TensorDict({"policy": torch.zeros(4, OBS_DIM)}, batch_size=[4])
    actor = FlowActor(obs, {"actor": ["policy"]}, "actor", ACT_DIM, hidden_dims=[32, 32], **kwargs)
    if trained_like:
        torch.nn.init.normal_(actor.net.trunk[-1].weight, std=0.3)
    return actor


def test_untrained_policy_is_standard_normal_noise():
    actor = make_actor(trained_like=False)
    actions = actor(obs_batch(4000), stochastic_output=True)
    assert actions.mean(0).abs().max() < 0.06 and (actions.std(0) - 1).abs().max() < 0.06
    assert torch.equal(actor(obs_batch(3)), torch.zeros(3, ACT_DIM))  # zero-sampling of the identity flow


def obs_batch(n: int) -> TensorDict:
    return TensorDict({"policy": torch.randn(n, OBS_DIM)}, batch_size=[n])


def test_zero_sampling_is_deterministic_and_batch_independent():
    actor = make_actor()
    obs = obs_batch(16)
    a1, a2 = actor(obs), actor(obs)
    assert torch.equal(a1, a2)
    single = actor(obs[3:4])
    assert torch.allclose(single[0], a1[3], atol=1e-6)


def test_stochastic_samples_differ_and_store_monte_carlo_pairs():
    actor = make_actor(num_mc=6)
    obs = obs_batch(10)
    a1 = actor(obs, stochastic_output=True)
    eps, tau, loss = actor.output_distribution_params
    assert eps.shape == (10, 6, ACT_DIM) and tau.shape == (10, 6) and loss.shape == (10, 6)
    assert ((tau >= 0) & (tau <= 1)).all() and torch.isfinite(loss).all()
    a2 = actor(obs, stochastic_output=True)
    assert not torch.allclose(a1, a2)
    assert actor.get_output_log_prob(a1).shape == (10,)
    assert actor.output_std.shape == (ACT_DIM,)


def test_batched_cfm_loss_equals_per_sample_loop():
    actor = make_actor()
    latent, actions = torch.randn(7, OBS_DIM), torch.randn(7, ACT_DIM)
    eps, tau = torch.randn(7, 4, ACT_DIM), torch.rand(7, 4)
    batched = cfm_loss(actor.net, latent, actions, eps, tau)
    for i in range(4):
        x_t = (1 - tau[:, i : i + 1]) * eps[:, i] + tau[:, i : i + 1] * actions
        v = actor.net(latent, x_t, tau[:, i])
        expected = (v - (actions - eps[:, i])).pow(2).sum(-1) / math.sqrt(ACT_DIM)
        assert torch.allclose(batched[:, i], expected, atol=1e-5)


def test_cfm_loss_decreases_when_fitting_fixed_actions():
    actor = make_actor()
    latent = torch.randn(64, OBS_DIM)
    actions = torch.tanh(latent[:, :ACT_DIM] * 2.0)  # a fixed, observation-dependent action set
    opt = torch.optim.Adam(actor.net.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(1)
    eval_eps, eval_tau = torch.randn(64, 32, ACT_DIM, generator=gen), torch.rand(64, 32, generator=gen)
    before = actor.cfm_loss(latent, actions, eval_eps, eval_tau).mean().item()
    for _ in range(400):
        eps, tau = torch.randn(64, 8, ACT_DIM), torch.rand(64, 8)
        loss = actor.cfm_loss(latent, actions, eps, tau).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = actor.cfm_loss(latent, actions, eval_eps, eval_tau).mean().item()
    assert after < 0.5 * before
    # and the sampler now lands near the fitted actions from zero noise
    sampled = actor.sample(latent, torch.zeros(64, ACT_DIM), steps=20)
    assert (sampled - actions).abs().mean() < 0.25


@pytest.mark.parametrize("steps", [1, 4])
def test_export_module_matches_actor(steps):
    """as_onnx / as_jit are the unrolled graph the exporter ships, the same function as the actor's sampler."""
    actor = make_actor(flow_steps=steps)
    obs = obs_batch(5)
    module = actor.as_onnx()
    assert isinstance(module, UnrolledFlowPolicy)
    assert torch.allclose(module(obs["policy"]), actor(obs), atol=1e-6)
    scripted = torch.jit.script(actor.as_jit())
    assert torch.allclose(scripted(obs["policy"]), actor(obs), atol=1e-6)
    noise = torch.randn(5, ACT_DIM)
    assert torch.allclose(scripted(obs["policy"], noise), actor.sample(actor.get_latent(obs), noise), atol=1e-6)
    scripted.reset()  # legged_gym deploy scripts call it


def test_euler_log_prob_is_the_samples_density():
    """Exact change-of-variables density: N(0, I) for the identity flow; a 2-D histogram of samples otherwise."""
    torch.manual_seed(0)
    x0 = torch.randn(50000, ACT_DIM)
    identity = make_actor(trained_like=False).net
    _, log_prob = euler_sample_log_prob(identity, torch.zeros(50000, OBS_DIM), x0, 10)
    assert torch.allclose(log_prob, -0.5 * x0.pow(2).sum(-1) - 1.5 * math.log(2 * math.pi), atol=1e-5)

    x0 = x0[:, :2]

    net = VelocityNet(OBS_DIM, 2, [32, 32], "elu", 8)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.25)
    with torch.inference_mode():  # as in rsl_rl's rollout
        actions, log_prob = euler_sample_log_prob(net, torch.ones(50000, OBS_DIM), x0, 10)
        assert torch.equal(actions, euler_sample(net, torch.ones(50000, OBS_DIM), x0, 10))
    counts, (xe, ye) = torch.histogramdd(actions, bins=[20, 20])
    density = counts / (len(actions) * (xe[1] - xe[0]) * (ye[1] - ye[0]))
    binned = density[torch.bucketize(actions[:, 0].contiguous(), xe[1:-1]), torch.bucketize(actions[:, 1].contiguous(), ye[1:-1])]
    assert abs(binned.log().mean() - log_prob.mean()) < 0.05
    assert torch.corrcoef(torch.stack([binned.log(), log_prob]))[0, 1] > 0.95
