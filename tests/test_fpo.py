"""FPO algorithm: ratio == 1 and matching gradients at theta == theta_old, objectives, EMA."""

import copy
import math

import pytest
import torch
from helpers import ESTIMATED_BASE_VELOCITY, collect_rollout

from fpo_locomotion.algorithms.fpo import fpo_log_ratio, generalized_normal_log_prob, policy_objective
from fpo_locomotion.train import make_env, make_runner, resolve_configs


def collected_fpo(ratio: str, objective: str, output_std: float = 0.0, compile_mode: str | None = None, **fpo):
    """An FPO learner (rsl_rl runner construction, ``train.runner.torch_compile_mode=compile_mode``) with one
    collected rollout of point-mass-joystick; the flow's output layer (zero at init) drawn from N(0, output_std^2)
    first if ``output_std`` > 0."""
    torch.manual_seed(0)
    sets = (f"train.fpo.ratio={ratio}", f"train.fpo.objective={objective}", "train.runner.num_steps_per_env=8",
            *([f"train.runner.torch_compile_mode={compile_mode}"] if compile_mode else []),
            *(f"train.fpo.{k}={v}" for k, v in fpo.items()))
    spec, env_cfg, train_cfg = resolve_configs("point-mass-joystick", None, sets)
    env = make_env(spec, env_cfg, 16, "cpu", 0)
    alg = make_runner(spec, env, env_cfg, train_cfg, "fpo", None, "cpu").alg
    if output_std > 0:
        torch.nn.init.normal_(alg.actor.net.trunk[-1].weight, std=output_std)
    collect_rollout(alg, env, 8)
    return alg


@pytest.mark.parametrize("ratio", ["mean", "per_sample"])
@pytest.mark.parametrize("objective", ["ppo_clip", "aspo"])
def test_ratio_is_one_and_gradient_is_policy_gradient_at_old_params(ratio, objective):
    alg = collected_fpo(ratio, objective)
    batch = next(alg.storage.mini_batch_generator(1, 1))
    eps, tau, loss_old = batch.old_distribution_params
    latent = alg.actor.get_latent(batch.observations)
    loss_new = alg.actor.cfm_loss(latent, batch.actions, eps, tau)
    log_ratio = fpo_log_ratio(loss_old, loss_new, ratio, 20.0, 5.0)
    assert torch.allclose(log_ratio.exp(), torch.ones_like(log_ratio), atol=1e-5)

    params = list(alg.actor.net.parameters())
    clipped = -policy_objective(log_ratio.exp(), batch.advantages, alg.clip_param, objective).mean()
    grads = torch.autograd.grad(clipped, params, retain_graph=True)
    # At r = 1 neither the clip nor the SPO penalty is active: d r / d theta = d log r / d theta.
    plain = -(batch.advantages * log_ratio).mean()
    plain_grads = torch.autograd.grad(plain, params)
    for g, p in zip(grads, plain_grads):
        assert torch.allclose(g, p, atol=1e-6, rtol=1e-4)
    assert any(g.abs().sum() > 0 for g in grads)


def test_same_pairs_are_reused_across_epochs():
    alg = collected_fpo("per_sample", "aspo")
    stored = [p.clone() for p in alg.storage.distribution_params]
    seen = [b.old_distribution_params for b in alg.storage.mini_batch_generator(2, 3)]
    assert len(seen) == 6
    flat = [p.flatten(0, 1) for p in stored]
    for eps, tau, _ in seen:  # every minibatch's pairs are rows of the stored rollout tensors
        assert all((row == flat[0]).all(-1).all(-1).any() for row in eps[:3])
        assert all((row == flat[1]).all(-1).any() for row in tau[:3])


def test_aspo_matches_ppo_clip_for_positive_and_penalizes_negative_advantages():
    ratio = torch.tensor([[0.9, 1.0, 1.2]])
    pos, neg = torch.tensor([[2.0]]), torch.tensor([[-2.0]])
    assert torch.equal(policy_objective(ratio, pos, 0.05, "aspo"), policy_objective(ratio, pos, 0.05, "ppo_clip"))
    spo = policy_objective(ratio, neg, 0.05, "aspo")
    expected = -2.0 * ratio - 2.0 / 0.1 * (ratio - 1.0) ** 2
    assert torch.allclose(spo, expected)
    # the PPO clip has zero gradient for A < 0 and r < 1 - eps; SPO pulls r back towards 1
    r = torch.tensor([[0.5]], requires_grad=True)
    (g_clip,) = torch.autograd.grad(policy_objective(r, neg, 0.05, "ppo_clip").sum(), r)
    (g_spo,) = torch.autograd.grad(policy_objective(r, neg, 0.05, "aspo").sum(), r)
    assert g_clip.item() == 0.0 and g_spo.item() > 0.0


def test_log_ratio_clamps_losses_and_ratio():
    old, new = torch.tensor([[100.0, 1.0]]), torch.tensor([[0.0, 50.0]])
    per_sample = fpo_log_ratio(old, new, "per_sample", loss_clamp=20.0, log_ratio_clamp=5.0)
    assert per_sample.tolist() == [[5.0, -5.0]]
    mean = fpo_log_ratio(old, new, "mean", loss_clamp=20.0, log_ratio_clamp=50.0)
    assert mean.shape == (1, 1) and mean.item() == pytest.approx((20.0 + 1.0) / 2 - (0.0 + 20.0) / 2)


def test_update_changes_actor_and_tracks_ema():
    alg = collected_fpo("per_sample", "aspo", ema_decay=0.5, ema_start=1)
    before = copy.deepcopy(alg.actor.state_dict())
    stats = alg.update()
    assert {"surrogate", "value", "cfm_loss", "ratio_mean", "ratio_std", "clip_fraction"} <= set(stats)
    after = alg.actor.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    # before ema_start the EMA is a copy; after, it lags the trained weights
    assert all(torch.equal(alg.ema_actor.state_dict()[k], after[k]) for k in after)
    assert alg.get_policy() is alg.ema_actor


def test_prior_kl_bonus_is_the_log_density_ratio_of_flow_and_prior():
    """Untrained flow = N(0, I): the bonus -c (log pi - log prior) is 0 for prior_std 1, the Gaussians' ratio for 2."""
    for prior_std in (1.0, 2.0):
        sets = ("train.fpo.prior_kl_coef=0.5", f"train.fpo.prior_std={prior_std}")
        spec, env_cfg, train_cfg = resolve_configs("point-mass-joystick", None, sets)
        env = make_env(spec, env_cfg, 16, "cpu", 0)
        alg = make_runner(spec, env, env_cfg, train_cfg, "fpo", None, "cpu").alg
        with torch.inference_mode():
            actions = alg.act(env.get_observations())
            alg.process_env_step(env.get_observations(), torch.ones(16), torch.zeros(16), {})
        log_ratio = (-0.5 * actions.pow(2) + 0.5 * (actions / prior_std).pow(2) + math.log(prior_std)).sum(-1)
        assert torch.allclose(alg.storage.rewards[0, :, 0], 1.0 - 0.5 * log_ratio, atol=1e-5)


@pytest.mark.parametrize("power", [2.0, 8.0])
def test_generalized_normal_prior_is_a_normalized_density(power):
    x = torch.linspace(-6.0, 6.0, 60001)[:, None]
    density = generalized_normal_log_prob(x, 1.5, power).exp()
    assert abs(float(torch.trapezoid(density, x[:, 0])) - 1.0) < 1e-4
    if power == 2.0:
        assert torch.allclose(density.log(), torch.distributions.Normal(0.0, 1.5).log_prob(x[:, 0]), atol=1e-5)
    else:  # flat-topped: nearly the same density at 0 and 0.6 std
        assert float(density[30000] / density[30000 + 4500]) < 1.01


def test_mixed_precision_update_follows_the_float32_one():
    """bf16 autocast of the update (use_mixed_precision): ratio ~1 at the acting weights, float32 weights, and nearly
    the same first step as float32 (one epoch, one mini-batch, same rollout of a flow whose output is not zero:
    at init it is, and bf16 would change nothing)."""
    steps, ratio_std = {}, {}
    for mixed in (False, True):
        alg = collected_fpo("per_sample", "aspo", output_std=0.1, use_mixed_precision=mixed, num_learning_epochs=1,
                            num_mini_batches=1)
        before = [p.detach().clone() for p in alg.actor.parameters()]
        stats = alg.update()
        assert abs(stats["ratio_mean"] - 1.0) < 0.01
        ratio_std[mixed] = stats["ratio_std"]
        assert all(p.dtype == torch.float32 for p in alg.actor.parameters())
        steps[mixed] = torch.cat([(p.detach() - b).flatten() for p, b in zip(alg.actor.parameters(), before)])
    assert ratio_std[False] < 1e-6 < ratio_std[True] < 0.01  # bf16 rounding, and only that
    assert torch.nn.functional.cosine_similarity(steps[False], steps[True], dim=0) > 0.9


def test_compiled_flow_acts_and_updates_as_the_eager_one():
    """train.runner.torch_compile_mode: the compiled sampler and CFM loss give the eager rollout and update (float32
    rounding apart) and leave the checkpoint's keys as they are."""
    algs, steps = [], []
    for mode in (None, "default"):
        alg = collected_fpo("per_sample", "aspo", output_std=0.1, compile_mode=mode, num_learning_epochs=1,
                            num_mini_batches=1)
        before = [p.detach().clone() for p in alg.actor.parameters()]
        alg.update()
        algs.append(alg)
        steps.append(torch.cat([(p.detach() - b).flatten() for p, b in zip(alg.actor.parameters(), before)]))
    eager, compiled = algs
    assert compiled.actor._cfm_loss is not eager.actor._cfm_loss  # compiled, not the eager function
    assert torch.allclose(compiled.storage.actions, eager.storage.actions, atol=1e-5)
    assert torch.nn.functional.cosine_similarity(steps[0], steps[1], dim=0) > 0.999
    for key in ("actor_state_dict", "critic_state_dict"):
        assert list(compiled.save()[key]) == list(eager.save()[key])


def test_the_estimator_learns_by_regression_and_not_from_the_policy_loss():
    """G1-Flat with the base velocity estimated: the env gives the true scaled value (mirrored as a velocity), the
    flow's input carries the estimate without its gradient, and FPO's update cuts the estimate's error while the
    flow's ratio sees the estimate that acted."""
    torch.manual_seed(0)
    spec, env_cfg, train_cfg = resolve_configs("G1-Flat", overrides=(*ESTIMATED_BASE_VELOCITY,
                                                                     "train.fpo.num_learning_epochs=50"))
    env = make_env(spec, env_cfg, 8, "cpu", 0)
    alg = make_runner(spec, env, env_cfg, train_cfg, "fpo", None, "cpu").alg
    assert torch.equal(env.get_observations()["estimated"], 2.0 * env.backend.root_lin_vel_b)
    assert env.task.mirror["estimated"].apply(torch.tensor([1.0, 2.0, 3.0])).tolist() == [1.0, -2.0, 3.0]
    actor = alg.actor
    output = [m for m in actor.net.trunk if isinstance(m, torch.nn.Linear)][-1]
    torch.nn.init.normal_(output.weight, std=0.1)  # an untrained flow's output is 0 whatever its input
    collect_rollout(alg, env, 24)
    obs = alg.storage.observations.flatten(0, 1).clone()
    latent, estimate = actor.latent_and_estimate(obs)
    assert latent.shape == (192, 47 + 3) and torch.equal(latent, actor.get_latent(obs))
    assert not latent.requires_grad and estimate.requires_grad  # the flow's loss cannot reach the estimator

    def error() -> float:
        with torch.no_grad():
            return float((actor.latent_and_estimate(obs)[1] - obs["estimated"]).square().mean())

    before = error()
    actor.net.requires_grad_(False)  # the flow's weights stay: its ratio may move only through its input
    stats = alg.update()
    assert stats["estimator"] > 0.0 and error() < 0.7 * before, (before, error())
    # the flow's input is the acting estimator's estimate: the estimator's 200 steps do not move the ratio
    assert stats["ratio_std"] < 1e-4 and abs(stats["ratio_mean"] - 1.0) < 1e-4, stats
