"""Task definitions and the task registry (installed as ``fpo_locomotion.tasks``)."""

from fpo_locomotion.tasks.bandit_multimodal import BanditConfig, BanditMultimodalEnv, bandit_train_config
from fpo_locomotion.tasks.point_mass_joystick import PointMassConfig, PointMassJoystickEnv, point_mass_train_config
from fpo_locomotion.tasks.registry import TaskSpec, get_task, register_task, task_names

register_task(TaskSpec("bandit-multimodal", BanditMultimodalEnv, BanditConfig, bandit_train_config, 64,
                       "one-step 2-D bandit with two equally good modes"))
register_task(TaskSpec("point-mass-joystick", PointMassJoystickEnv, PointMassConfig, point_mass_train_config, 64,
                       "2-D point mass following a commanded velocity"))

__all__ = ["TaskSpec", "get_task", "register_task", "task_names"]
