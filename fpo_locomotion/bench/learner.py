"""``fpo-loco bench learner``: one FPO update vs one rsl_rl PPO update on the same rollout batch.

The batch has G1-Flat sizes (policy obs 47, critic obs 66, 12 actions, 3x256 actor/critic) and
``num_envs x num_steps`` random transitions collected through each algorithm's own ``act()``. Both
algorithms run the same epochs x minibatches, so the ratio is the per-sample cost of FPO's
N_mc-sample CFM loss against PPO's Gaussian log-likelihood. Rollout-side cost (K Euler steps plus the
N_mc old losses per action) is timed too, per env step.
"""

from __future__ import annotations

import statistics
import time

import torch
from rsl_rl.algorithms import PPO
from rsl_rl.models import MLPModel
from rsl_rl.storage import RolloutStorage
from tensordict import TensorDict

from fpo_locomotion.algorithms.fpo import FPO
from fpo_locomotion.models.flow_actor import FlowActor

POLICY_OBS, CRITIC_OBS, ACTIONS, HIDDEN = 47, 66, 12, [256, 256, 256]
GROUPS = {"actor": ["policy"], "critic": ["critic"]}
SETTINGS = {"vanilla FPO (K=10, N_mc=8)": (10, 8), "FPO++ (K=64, N_mc=32)": (64, 32)}


def _random_obs(num_envs: int) -> TensorDict:
    return TensorDict({"policy": torch.randn(num_envs, POLICY_OBS), "critic": torch.randn(num_envs, CRITIC_OBS)},
                      batch_size=[num_envs])


def _make_algorithm(algo: str, num_envs: int, num_steps: int, epochs: int, minibatches: int,
                    flow_steps: int = 10, num_mc: int = 8) -> PPO:
    obs = _random_obs(num_envs)
    critic = MLPModel(obs, GROUPS, "critic", 1, HIDDEN, obs_normalization=True)
    storage = RolloutStorage("rl", num_envs, num_steps, obs, [ACTIONS])
    common = {"num_learning_epochs": epochs, "num_mini_batches": minibatches}
    if algo == "ppo":
        actor = MLPModel(obs, GROUPS, "actor", ACTIONS, HIDDEN, obs_normalization=True,
                         distribution_cfg={"class_name": "rsl_rl.modules:GaussianDistribution", "init_std": 1.0})
        return PPO(actor, critic, storage, **common)
    actor = FlowActor(obs, GROUPS, "actor", ACTIONS, HIDDEN, flow_steps=flow_steps, num_mc=num_mc)
    return FPO(actor, critic, storage, **common)


def _collect(alg: PPO, num_envs: int, num_steps: int) -> float:
    """Fill the storage with random transitions; returns seconds per ``act()`` call (one env step)."""
    acting = 0.0
    with torch.inference_mode():
        for _ in range(num_steps):
            obs = _random_obs(num_envs)
            start = time.perf_counter()
            alg.act(obs)
            acting += time.perf_counter() - start
            alg.process_env_step(obs, torch.randn(num_envs), (torch.rand(num_envs) < 0.02).long(), {})
        alg.compute_returns(_random_obs(num_envs))
    return acting / num_steps


def time_update(algo: str, num_envs: int, num_steps: int, epochs: int, minibatches: int, repeats: int,
                flow_steps: int = 10, num_mc: int = 8) -> tuple[float, float]:
    """Median seconds of one ``update()`` and of one ``act()`` over ``repeats`` fresh rollouts."""
    torch.manual_seed(0)
    alg = _make_algorithm(algo, num_envs, num_steps, epochs, minibatches, flow_steps, num_mc)
    updates, acts = [], []
    for _ in range(repeats):
        acts.append(_collect(alg, num_envs, num_steps))
        start = time.perf_counter()
        alg.update()
        updates.append(time.perf_counter() - start)
    return statistics.median(updates), statistics.median(acts)


def bench_learner(num_envs: int = 1024, num_steps: int = 24, epochs: int = 5, minibatches: int = 4,
                  repeats: int = 3) -> dict[str, dict[str, float]]:
    """Print and return update/act seconds of PPO and both FPO settings, and the FPO/PPO ratios."""
    print(f"batch {num_envs} envs x {num_steps} steps = {num_envs * num_steps} samples, {epochs} epochs x "
          f"{minibatches} minibatches, torch threads {torch.get_num_threads()}")
    ppo_update, ppo_act = time_update("ppo", num_envs, num_steps, epochs, minibatches, repeats)
    results = {"PPO (Gaussian)": {"update_s": ppo_update, "act_ms": 1e3 * ppo_act, "update_ratio": 1.0}}
    for name, (k, n_mc) in SETTINGS.items():
        update, act = time_update("fpo", num_envs, num_steps, epochs, minibatches, repeats, k, n_mc)
        results[name] = {"update_s": update, "act_ms": 1e3 * act, "update_ratio": update / ppo_update}
    print(f"{'learner':<28}{'update s':>10}{'FPO/PPO':>10}{'act ms/step':>13}")
    for name, r in results.items():
        print(f"{name:<28}{r['update_s']:>10.3f}{r['update_ratio']:>10.1f}{r['act_ms']:>13.2f}")
    return results
