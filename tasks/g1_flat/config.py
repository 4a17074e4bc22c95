"""Configuration of the ``G1-Flat`` task: the velocity task (``tasks/velocity``) with the Unitree G1 (12 leg
joints) and its numbers. Defaults follow the legged_gym / unitree_rl_gym G1 recipe, changed where README
"What made it walk" says; ``G1-Flat-Play`` is ``velocity_play`` of it.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

from fpo_locomotion.tasks.terms import RewardTermConfig
from fpo_locomotion.tasks.velocity.config import ObservationsConfig, VelocityEnvConfig, velocity_play, velocity_rewards

G1_HIP_JOINTS = [f"{side}_hip_{axis}_joint" for side in ("left", "right") for axis in ("roll", "yaw")]
G1_BASE_HEIGHT = 0.78
"""Height (m) of the G1's pelvis when it stands in its default pose."""
G1_GAIT_PERIOD = 0.6
"""Gait clock period (s): 0.6 turned faster than the recipe's 0.8 (README "Results", recipe v4)."""


G1_TRACKING_SWITCH_STEP = 16800
"""Control step (iteration 700 at 24 steps per env) from which the tracking terms ask for more: the yaw weight
0.5 -> 1.0, a sharp linear term (sigma 0.1) 0 -> 1.0 and a sharp yaw term (sigma 0.1) 0 -> 1.0. Before it FPO
learns to walk on the coarse terms; with yaw 1.0 or sigma 0.1 from the start it turned in place or stood (README
Results, stops 20-28)."""


def g1_flat_rewards() -> dict[str, RewardTermConfig]:
    rewards = velocity_rewards(base_height=G1_BASE_HEIGHT, hip_joints=G1_HIP_JOINTS, gait_period=G1_GAIT_PERIOD)
    rewards["track_ang_vel_z"].weight_steps = [[G1_TRACKING_SWITCH_STEP, 1.0]]
    rewards["track_lin_fine"] = RewardTermConfig(func="track_lin_vel_xy", weight=0.0, params={"sigma": 0.1},
                                                 weight_steps=[[G1_TRACKING_SWITCH_STEP, 1.0]])
    rewards["track_yaw_fine"] = RewardTermConfig(func="track_ang_vel_z", weight=0.0, params={"sigma": 0.1},
                                                 weight_steps=[[G1_TRACKING_SWITCH_STEP, 1.0]])
    rewards["hip_pos"].weight = -0.1  # was -0.5; turns better beside the sharp yaw term (README Results, stops 26-28)
    return rewards


@dataclass
class G1FlatConfig(VelocityEnvConfig):
    """``G1-Flat``'s env config: the velocity task with the 12-DoF G1."""

    robot: str = "g1_12dof"
    gait_period: float = G1_GAIT_PERIOD
    rewards: dict[str, RewardTermConfig] = field(default_factory=g1_flat_rewards)


def g1_flat_play_config() -> G1FlatConfig:
    """The ``G1-Flat-Play`` config: ``velocity_play`` of the defaults."""
    return velocity_play(G1FlatConfig())


def upgrade_g1_flat_env_cfg(saved: dict, config_format: int) -> dict:
    """A ``G1-Flat`` env config of an older config format (1: the shipped policies; 2: before events were entries)
    as today's (3): checkpoints trained before keep playing and exporting."""
    saved = copy.deepcopy(saved)
    if config_format < 2:
        _terms_as_entries(saved)
    if config_format < 3:
        _events_as_entries(saved)
    return saved


def _terms_as_entries(saved: dict) -> None:
    """Format 1 -> 2 (in place): ``rewards.scales`` + shared reward constants, termination flags and limits,
    ``noise`` per observation term become term entries."""
    noise = saved.pop("noise")
    policy = {name: {**dataclasses.asdict(entry), "noise": noise.get(name, 0.0)}
              for name, entry in ObservationsConfig().policy.items()}
    saved["observations"] = {"policy": policy, "noise": noise["enabled"]}
    old, falls = saved.pop("rewards"), saved.pop("terminations")
    params = {"track_lin_vel_xy": {"sigma": old["tracking_sigma"]}, "track_ang_vel_z": {"sigma": old["tracking_sigma"]},
              "base_height": {"target": old["base_height_target"]},
              "joint_pos_limits": {"soft": old["soft_joint_pos_limit"]},
              "feet_air_time": {"threshold": old["feet_air_time_threshold"]},
              "contact": {"stance_fraction": old["stance_fraction"]}}
    params["hip_pos"] = {"joints": G1_HIP_JOINTS}
    saved["rewards"] = {name: {"func": name, "weight": weight, "params": params.get(name, {})}
                        for name, weight in old["scales"].items()}
    saved["foot_contact_force"] = old["contact_force"]
    saved["only_positive_rewards"] = old["only_positive_rewards"]
    saved["commands"]["standing_command"] = old["standing_command"]
    saved["terminations"] = {
        **({"base_contact": {"func": "base_contact", "params": {}}} if falls["base_contact"] else {}),
        "bad_orientation": {"func": "bad_orientation",
                            "params": {"max_roll": falls["max_roll"], "max_pitch": falls["max_pitch"]}},
        "low_base_height": {"func": "low_base_height", "params": {"min_height": falls["min_base_height"]}},
    }


def _events_as_entries(saved: dict) -> None:
    """Format 2 -> 3 (in place): ``domain_rand`` (flags, ranges, push settings, curriculum) becomes ``events``
    entries and ``disturbance_curriculum``."""
    dr = saved.pop("domain_rand")
    saved["disturbance_curriculum"] = dr["curriculum_steps"]
    events = {
        "friction": (dr["randomize_friction"], "randomize_friction", {"range": dr["friction_range"]}),
        "base_mass": (dr["randomize_base_mass"], "randomize_base_mass", {"range": dr["added_mass_range"]}),
        "pd_gains": (dr["randomize_pd_gains"], "randomize_pd_gains",
                     {"kp_range": dr["kp_scale_range"], "kd_range": dr["kd_scale_range"]}),
    }
    saved["events"] = {name: {"func": func, "mode": "reset", "interval_s": 0.0, "params": params}
                       for name, (enabled, func, params) in events.items() if enabled}
    if dr["push_robots"]:
        saved["events"]["push"] = {"func": "push_robot", "mode": "interval", "interval_s": dr["push_interval_s"],
                                   "params": {"max_vel_xy": dr["max_push_vel_xy"]}}
