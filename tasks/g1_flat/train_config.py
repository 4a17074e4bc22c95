"""Train config of ``G1-Flat``: FPO sized for a 2-core CPU, and rsl_rl's PPO as the baseline.

FPO++'s G1 recipe (Isaac Lab, 4096 envs: actor 3x256, K=64 Euler steps, N_mc=32, 32 epochs x 4
minibatches) costs ~100x a PPO update. Here: the same ASPO objective and clip 0.05 with the actor of
Isaac Lab's flat G1 ([256, 128, 128]), K=8 rollout steps, N_mc=4 and 5 epochs, which brought its learner
close to PPO's cost per sample on this CPU (README Benchmarks). PPO: rsl_rl's /
legged_gym's defaults (lr 1e-3 adaptive on KL 0.01, 5 epochs x 4 minibatches, clip 0.2, entropy 0.01) with
the G1's init std 0.8 and the same actor size. Both share the critic ([512, 256, 128]) and 24 steps per env
per iteration (512 envs: 12k samples per update).
"""

from __future__ import annotations

from fpo_locomotion.config import TrainConfig

G1_FLAT_PPO_OVERRIDES = ("env.rewards.track_lin_vel_xy.params.sigma=0.1", "env.rewards.track_ang_vel_z.weight=1.0",
                         "env.rewards.track_ang_vel_z.weight_steps=[]", "env.rewards.track_lin_fine=null",
                         "env.rewards.track_yaw_fine=null", "env.rewards.hip_pos.weight=-0.5",
                         "train.runner.max_iterations=1300")
"""``--algo ppo``'s recipe on top of the defaults (``TaskSpec.algo_overrides``), that of ``pretrained:ppo``: sharp
linear tracking (sigma 0.1) and the yaw term at weight 1.0 from the start, no tracking switch at iteration 700,
the hip penalty at -0.5 (README Results). FPO does not walk forward at sigma 0.1 from the start (no signal at
large errors), so the defaults are FPO's: sharp linear and yaw terms switched on once it walks."""


def g1_flat_train_config() -> TrainConfig:
    cfg = TrainConfig()
    cfg.runner.num_steps_per_env = 24
    cfg.runner.max_iterations = 1100
    cfg.runner.seed = 1
    cfg.runner.save_interval = 50
    cfg.flow_actor.hidden_dims = [256, 128, 128]
    cfg.flow_actor.flow_steps = 8
    cfg.flow_actor.num_mc = 4
    cfg.flow_actor.action_perturb_std = 0.02
    cfg.fpo.num_learning_epochs = 5
    cfg.fpo.num_mini_batches = 4
    cfg.fpo.learning_rate = 3e-4
    cfg.fpo.ema_decay = 0.95
    cfg.fpo.ema_start = 300
    cfg.gaussian_actor.hidden_dims = [256, 128, 128]
    cfg.gaussian_actor.init_std = 0.8
    cfg.critic.hidden_dims = [512, 256, 128]
    return cfg
