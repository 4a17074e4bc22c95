"""Extending G1-Flat from outside the package: a user module adds, removes and reweights terms (config entries)
and registers a robot variant; bad entries are one-line errors; checkpoints of the older config format load."""

import textwrap

import pytest
import yaml
from test_bad_input import fails

from fpo_locomotion.checkpoints import saved_env_cfg
from fpo_locomotion.cli import main
from fpo_locomotion.plot_runs import read_scalars
from fpo_locomotion.tasks import get_task
from fpo_locomotion.tasks.g1_flat.config import G1FlatConfig
from fpo_locomotion.train import resolve_configs

USER_MODULE = '''
    import torch

    from fpo_locomotion.tasks import TaskSpec, register_task
    from fpo_locomotion.tasks.g1_flat import G1FlatConfig, g1_flat_train_config
    from fpo_locomotion.tasks.terms import RewardTermConfig
    from fpo_locomotion.tasks.velocity import make_velocity_env


    def feet_apart(s, c, min_distance=0.2):
        """1 while the feet are at least min_distance (m) apart on the floor plane [N]."""
        gap = torch.linalg.vector_norm(s.foot_pos[:, 0, :2] - s.foot_pos[:, 1, :2], dim=1)
        return (gap >= min_distance).float()


    def feet_gap(s, p):
        """distance (m) between the feet on the floor plane"""
        return torch.linalg.vector_norm(s.foot_pos[:, 0, :2] - s.foot_pos[:, 1, :2], dim=1, keepdim=True)


    def heavier_base(e, env_ids, kg=2.0):
        """Every episode starts with kg more on the base (an event of the user's own)."""
        e.backend.set_base_mass_offset(env_ids, torch.full((len(env_ids),), kg))
        e.obs_params.added_base_mass[env_ids] = kg


    def env_cfg():
        cfg = G1FlatConfig()
        cfg.rewards["feet_apart"] = RewardTermConfig(func="my_g1_terms:feet_apart", weight=0.5,
                                                     params={"min_distance": 0.15})
        del cfg.rewards["hip_pos"]
        return cfg


    register_task(TaskSpec("G1-Flat-my-terms", make_velocity_env, env_cfg, g1_flat_train_config, 8))
'''

ROBOT_MODULE = '''
    import dataclasses

    from fpo_locomotion.envs.robots import G1_12DOF, register_robot
    from fpo_locomotion.tasks import TaskSpec, register_task
    from fpo_locomotion.tasks.g1_flat import g1_flat_train_config
    from fpo_locomotion.tasks.velocity import VelocityEnvConfig, make_velocity_env, velocity_play, velocity_rewards

    # The G1 with 20% stiffer knees and a deeper crouch as its default pose.
    crouch = {"hip_pitch": -0.2, "knee": 0.45, "ankle_pitch": -0.25}
    register_robot("g1_stiff_knees", dataclasses.replace(
        G1_12DOF, kp=[kp * 1.2 if "knee" in name else kp for name, kp in zip(G1_12DOF.joint_names, G1_12DOF.kp)],
        default_joint_pos=[next((v for k, v in crouch.items() if f"_{k}_" in name), 0.0) for name in G1_12DOF.joint_names]))


    @dataclasses.dataclass
    class StiffKneesConfig(VelocityEnvConfig):
        robot: str = "g1_stiff_knees"
        rewards: dict = dataclasses.field(default_factory=lambda: velocity_rewards(
            base_height=0.74, hip_joints=["left_hip_roll_joint", "right_hip_roll_joint"], gait_period=0.8))


    register_task(TaskSpec("G1-Flat-stiff-knees", make_velocity_env, StiffKneesConfig, g1_flat_train_config, 8,
                           play=velocity_play))
'''


def test_a_term_from_a_user_module_is_trained_and_logged(tmp_path, monkeypatch):
    (tmp_path / "my_g1_terms.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    main(["--import", "my_g1_terms", "train", "--task", "G1-Flat-my-terms", "--algo", "ppo", "--num-envs", "16",
          "--max-iterations", "2", "--log-root", str(tmp_path / "logs"), "--set", "env.num_threads=1",
          "--set", "env.rewards.feet_apart.weight=0.3", "--set", "train.runner.num_steps_per_env=40"])
    (run_dir,) = (tmp_path / "logs" / "G1-Flat-my-terms").iterdir()
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())["env"]["rewards"]
    assert saved["feet_apart"] == {"func": "my_g1_terms:feet_apart", "params": {"min_distance": 0.15}, "weight": 0.3,
                                   "weight_steps": []}
    assert "hip_pos" not in saved
    iterations, values = read_scalars(str(run_dir), "Episode_Reward/feet_apart")
    assert iterations and all(0.0 <= v <= 0.3 for v in values)  # per-second weight 0.3 times a 0/1 term
    assert read_scalars(str(run_dir), "Episode_Reward/hip_pos") == ([], [])


def test_an_observation_term_from_a_user_module_extends_the_policy_group(tmp_path, monkeypatch):
    (tmp_path / "my_g1_terms.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    _, cfg, _ = resolve_configs("G1-Flat", overrides=(
        "env.observations.policy.feet_gap.func=my_g1_terms:feet_gap", "env.observations.policy.feet_gap.scale=2.0",
        "env.observations.policy.gait_phase=null", "env.num_threads=1"))
    env = get_task("G1-Flat").make_env(cfg, num_envs=2)
    policy = env.get_observations()["policy"]
    assert policy.shape == (2, 47 - 2 + 1)
    gap = env.task.backend.foot_pos[:, 0, :2] - env.task.backend.foot_pos[:, 1, :2]
    assert policy[:, -1].tolist() == pytest.approx((2.0 * gap.norm(dim=1)).tolist())
    (last,) = [t for t in env.deploy_metadata()["observation_terms"] if t["name"] == "feet_gap"]
    assert (last["size"], last["scale"], last["definition"]) == (1, 2.0, "distance (m) between the feet on the floor plane")


def test_an_event_from_a_user_module_replaces_a_built_in_one(tmp_path, monkeypatch):
    (tmp_path / "my_g1_terms.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    _, cfg, _ = resolve_configs("G1-Flat", overrides=(
        "env.events.heavy.func=my_g1_terms:heavier_base", "env.events.heavy.params.kg=1.5", "env.events.base_mass=null",
        "env.num_threads=1"))
    env = get_task("G1-Flat").make_env(cfg, num_envs=3)
    assert list(cfg.events) == ["friction", "pd_gains", "push", "heavy"]
    assert env.task.obs_params.added_base_mass.tolist() == [1.5, 1.5, 1.5]  # the critic's privileged mass


def test_a_robot_variant_from_a_user_module_trains(tmp_path, monkeypatch):
    (tmp_path / "my_g1_variant.py").write_text(textwrap.dedent(ROBOT_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    main(["--import", "my_g1_variant", "train", "--task", "G1-Flat-stiff-knees", "--num-envs", "4",
          "--max-iterations", "1", "--log-root", str(tmp_path / "logs"), "--set", "env.num_threads=1",
          "--set", "train.runner.num_steps_per_env=4"])
    (run_dir,) = (tmp_path / "logs" / "G1-Flat-stiff-knees").iterdir()
    assert (run_dir / "model_0.pt").is_file()
    env = get_task("G1-Flat-stiff-knees").make_env(get_task("G1-Flat-stiff-knees").env_cfg(), num_envs=1)
    meta = env.deploy_metadata()
    assert meta["kp"][3] == pytest.approx(150.0 * 1.2) and meta["kp"][0] == 100.0  # left knee, left hip pitch
    assert meta["default_joint_pos"][:6] == pytest.approx([-0.2, 0.0, 0.0, 0.45, -0.25, 0.0])
    assert env.task.cfg.rewards["base_height"].params == {"target": 0.74}
    assert get_task("G1-Flat-stiff-knees-Play").env_cfg().commands.schedule  # its Play variant came with it


def test_set_reweights_removes_and_adds_terms():
    _, cfg, _ = resolve_configs("G1-Flat", overrides=(
        "env.rewards.track_ang_vel_z.weight=1.0", "env.rewards.track_ang_vel_z.params.sigma=0.5",
        "env.rewards.hip_pos=null", "env.rewards.alive.func=my_module:alive", "env.rewards.alive.weight=0.1"))
    assert cfg.rewards["track_ang_vel_z"].weight == 1.0 and cfg.rewards["track_ang_vel_z"].params == {"sigma": 0.5}
    assert "hip_pos" not in cfg.rewards
    assert (cfg.rewards["alive"].func, cfg.rewards["alive"].weight, cfg.rewards["alive"].params) == \
        ("my_module:alive", 0.1, {})
    assert G1FlatConfig().rewards["track_ang_vel_z"].weight == 0.5  # the defaults are untouched


G1 = ["train", "--task", "G1-Flat", "--num-envs", "2", "--max-iterations", "1"]


@pytest.mark.parametrize(("overrides", "message"), [
    (["env.rewards.new.func=nope", "env.rewards.new.weight=1"],
     "Config key 'env.rewards.new.func': unknown term 'nope'. Valid: built-in terms: track_lin_vel_xy, "),
    (["env.rewards.new.func=no_such_module:f", "env.rewards.new.weight=1"],
     "cannot import module 'no_such_module'"),
    (["env.rewards.new.func=math:no_such_function", "env.rewards.new.weight=1"],
     "module 'math' has no function 'no_such_function'"),
    (["env.rewards.new.weight=1"], "Config key 'env.rewards.new' is a new entry: give its func too"),
    (["env.rewards.contact.params.width=1"],
     "Config key 'env.rewards.contact.params': contact takes no parameter(s) ['width']. Valid: stance_fraction."),
    (["env.terminations.tilt.func=tilted"], "Config key 'env.terminations.tilt.func': unknown term 'tilted'. "
     "Valid: built-in terms: base_contact, bad_orientation, low_base_height"),
    (["env.rewards.hip=null"], "Config key 'env.rewards.hip': there is no entry 'hip' to remove. Entries: "),
    (["env.rewards.contact=0.5"], "Config key 'env.rewards.contact' is an entry; give a mapping, not 0.5."),
    (["env.rewards.hip_pos.params.joints=[left_hip_joint]"],
     "Config key 'env.rewards.hip_pos': Unknown joint(s) ['left_hip_joint']. The robot's joints: left_hip_pitch_joint, "),
    (["env.rewards.lean.func=math:sqrt", "env.rewards.lean.weight=1"],
     "Config key 'env.rewards.lean': math:sqrt cannot be called as term(state, context, **params)"),
    (["env.robot=h1"], "Unknown robot 'h1'. Registered robots: g1_12dof"),
])
def test_bad_term_entries_are_one_line_errors(capsys, tmp_path, overrides, message):
    fails(capsys, [*G1, "--log-root", str(tmp_path), *(a for o in overrides for a in ("--set", o))], message)
    assert not any(tmp_path.rglob("*.pt"))


def test_format_1_checkpoint_configs_upgrade_to_the_same_terms():
    """A format-1 env config (no ``config_format`` in the checkpoint, as the shipped policies were trained with)
    reads back as today's defaults through formats 2 (terms) and 3 (events); the shipped policies' play tests
    check the whole path): today's defaults less the tracking switch, which format 1 could not hold."""
    v4 = G1FlatConfig()
    del v4.rewards["track_lin_fine"], v4.rewards["track_yaw_fine"]
    v4.rewards["track_ang_vel_z"].weight_steps = []
    old = {"commands": {},
           "noise": {"enabled": True, "base_ang_vel": 0.2, "projected_gravity": 0.05, "joint_pos": 0.01, "joint_vel": 1.5},
           "rewards": {"scales": {name: entry.weight for name, entry in v4.rewards.items()},
                       "tracking_sigma": 0.25, "base_height_target": 0.78, "feet_air_time_threshold": 0.3,
                       "soft_joint_pos_limit": 0.9, "stance_fraction": 0.55, "standing_command": 0.1,
                       "contact_force": 1.0, "only_positive_rewards": False},
           "terminations": {"base_contact": True, "max_roll": 0.8, "max_pitch": 1.0, "min_base_height": 0.4},
           "domain_rand": {"curriculum_steps": [12000, 24000], "randomize_friction": True, "friction_range": [0.3, 1.25],
                           "randomize_base_mass": True, "added_mass_range": [-1.0, 3.0], "randomize_pd_gains": True,
                           "kp_scale_range": [0.9, 1.1], "kd_scale_range": [0.9, 1.1], "push_robots": True,
                           "push_interval_s": 5.0, "max_push_vel_xy": 0.5}}
    assert saved_env_cfg({"env_cfg": old}, get_task("G1-Flat")) == v4
    old["terminations"]["base_contact"] = False
    old["domain_rand"]["push_robots"] = False
    upgraded = saved_env_cfg({"env_cfg": old}, get_task("G1-Flat"))
    assert "base_contact" not in upgraded.terminations and list(upgraded.events) == ["friction", "base_mass", "pd_gains"]
