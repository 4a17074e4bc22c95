"""Train config of ``G1-Flat``: FPO++'s G1 recipe sized for a CPU, and a legged_gym-like PPO baseline.

FPO++ (Isaac Lab, 4096 envs): actor 3x256, critic 3x768, K=64 Euler steps, N_mc=32, 32 epochs x 4
minibatches, lr 1e-4 AdamW, clip 0.05 ASPO, EMA 0.95 after 500 updates, action perturbation 0.02. Here:
the same actor and objective with K=16, N_mc=8 and 8 epochs (the update costs ~N_mc x epochs a PPO
update and is the bottleneck on a CPU: 64 envs x 24 steps take ~2 s to collect and ~5 s to learn from on
2 busy cores), lr 3e-4 for the shorter update. PPO: legged_gym's defaults
(lr 1e-3 adaptive on KL 0.01, 5 epochs x 4 minibatches, clip 0.2, entropy 0.01) with the G1's init
std 0.8. Both share the critic and 24 steps per env per iteration.
"""

from __future__ import annotations

from fpo_locomotion.config import TrainConfig


def g1_flat_train_config() -> TrainConfig:
    cfg = TrainConfig()
    cfg.runner.num_steps_per_env = 24
    cfg.runner.max_iterations = 2000
    cfg.runner.save_interval = 100
    cfg.flow_actor.hidden_dims = [256, 256, 256]
    cfg.flow_actor.flow_steps = 16
    cfg.flow_actor.num_mc = 8
    cfg.flow_actor.action_perturb_std = 0.02
    cfg.fpo.num_learning_epochs = 8
    cfg.fpo.num_mini_batches = 4
    cfg.fpo.learning_rate = 3e-4
    cfg.fpo.ema_decay = 0.95
    cfg.fpo.ema_start = 500
    cfg.gaussian_actor.hidden_dims = [512, 256, 128]
    cfg.gaussian_actor.init_std = 0.8
    cfg.critic.hidden_dims = [512, 256, 128]
    return cfg
