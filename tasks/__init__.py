"""Task definitions and the task registry (installed as ``fpo_locomotion.tasks``)."""

from fpo_locomotion.tasks.bandit_1d import Bandit1DConfig, Bandit1DEnv
from fpo_locomotion.tasks.bandit_multimodal import BANDIT_FAMILY, BanditConfig, BanditMultimodalEnv, bandit_train_config
from fpo_locomotion.tasks.g1_flat import G1_FLAT_PPO_OVERRIDES, G1FlatConfig, g1_flat_train_config, upgrade_g1_flat_env_cfg
from fpo_locomotion.tasks.point_mass_joystick import PointMassConfig, PointMassJoystickEnv, point_mass_train_config
from fpo_locomotion.tasks.registry import TaskSpec, get_task, register_task, task_names
from fpo_locomotion.tasks.velocity import make_velocity_env, velocity_play

register_task(TaskSpec("bandit-multimodal", BanditMultimodalEnv, BanditConfig, bandit_train_config, 64,
                       "one-step 2-D bandit with two equally good modes"))
for _name, _cfg in BANDIT_FAMILY.items():
    register_task(TaskSpec(_name, BanditMultimodalEnv, _cfg, bandit_train_config, 64,
                           f"one-step 2-D bandit with {len(_cfg().modes)} equally good modes (fpo-loco bench modes)"))
register_task(TaskSpec("bandit-1d", Bandit1DEnv, Bandit1DConfig, bandit_train_config, 64,
                       "one-step 1-D bandit with three bumps of unequal width and height (fpo-loco viz-flow)"))
register_task(TaskSpec("point-mass-joystick", PointMassJoystickEnv, PointMassConfig, point_mass_train_config, 64,
                       "2-D point mass following a commanded velocity"))
register_task(TaskSpec("G1-Flat", make_velocity_env, G1FlatConfig, g1_flat_train_config, 512,
                       "Unitree G1 (12 leg joints) tracking joystick velocity commands on flat ground",
                       upgrade_g1_flat_env_cfg, play=velocity_play, algo_overrides={"ppo": G1_FLAT_PPO_OVERRIDES}))

__all__ = ["TaskSpec", "get_task", "register_task", "task_names"]
