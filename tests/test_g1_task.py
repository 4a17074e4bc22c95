"""G1-Flat on the mujoco backend: rsl_rl VecEnv contract, falls, rewards, seeding, training, deploy metadata."""

from __future__ import annotations

import dataclasses
import json
import sys

import pytest
import torch

from fpo_locomotion.errors import ConfigError
from fpo_locomotion.tasks import get_task
from fpo_locomotion.tasks.g1_flat.config import G1FlatConfig, g1_flat_play_config
from fpo_locomotion.tasks.velocity.commands import VelocityCommand
from fpo_locomotion.tasks.velocity.config import CommandsConfig
from fpo_locomotion.tasks.velocity.env import make_velocity_env
from fpo_locomotion.tasks.velocity.rewards import REWARD_TERMS, track_ang_vel_z, track_lin_vel_xy
from fpo_locomotion.tasks.velocity.terminations import TERMINATION_TERMS
from fpo_locomotion.train import TrainArgs, train

N, J = 4, 12
DEPLOY_KEYS = {"joint_names", "default_joint_pos", "kp", "kd", "effort_limit", "action_scale", "control_dt",
               "physics_dt", "decimation", "observation_terms", "command_names", "command_ranges", "gait_period",
               "gait_clock", "commands", "control_law", "model", "model_origin", "model_sha256"}


def make(cfg: G1FlatConfig | None = None, num_envs: int = N, seed: int = 0):
    cfg = cfg or G1FlatConfig()
    cfg.num_threads = 1
    return make_velocity_env(cfg, num_envs=num_envs, seed=seed)


def random_actions(steps: int, num_envs: int = N, std: float = 0.3, seed: int = 1) -> torch.Tensor:
    return std * torch.randn(steps, num_envs, J, generator=torch.Generator().manual_seed(seed))


def scale_gains(env, kp: float, kd: float) -> None:
    ones = torch.ones(env.num_envs, J)
    env.backend.set_pd_gain_scale(torch.arange(env.num_envs), kp * ones, kd * ones)


def test_vec_env_contract_and_auto_reset():
    env = make()
    obs = env.get_observations()
    assert set(obs.keys()) == {"policy", "critic"}
    assert obs["policy"].shape == (N, 47) and obs["critic"].shape == (N, 61)
    assert env.num_actions == J and env.max_episode_length == 1000 and env.episode_length_buf.dtype == torch.long
    with torch.inference_mode():  # as rsl_rl's rollouts; later steps run outside it (e.g. a play script)
        obs, rewards, dones, extras = env.step(torch.zeros(N, J))
    assert rewards.shape == (N,) and rewards.dtype == torch.float32 and rewards.isfinite().all()
    assert dones.shape == (N,) and extras["time_outs"].shape == (N,)
    assert (env.episode_length_buf == 1).all()
    assert {"Metrics/lin_vel_error", "Metrics/ang_vel_error", "Perf/physics_ms", "Perf/task_ms"} <= set(extras["log"])
    # Time-out: every env ends, flagged as a time-out, and restarts from step 0 at the default height.
    env.episode_length_buf[:] = env.max_episode_length - 1
    obs, rewards, dones, extras = env.step(torch.zeros(N, J))
    assert dones.all() and extras["time_outs"].all()
    assert (env.episode_length_buf == 0).all()
    assert env.backend.root_pos[:, 2] == pytest.approx([env.backend.spec.default_base_height] * N, abs=1e-6)
    log = extras["log"]
    assert log["Episode_Termination/time_out"] == 1.0
    assert {f"Episode_Reward/{name}" for name in REWARD_TERMS} <= set(log)


def test_step_runs_torch_single_threaded_and_restores_the_thread_count():
    env = make()
    seen = []
    evaluate = env.task.evaluate
    env.task.evaluate = lambda *args: seen.append(torch.get_num_threads()) or evaluate(*args)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        env.step(torch.zeros(N, J))
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


def test_zero_gains_fall_and_terminate_not_time_out():
    env = make(g1_flat_play_config())
    scale_gains(env, 0.0, 0.0)
    ended = torch.zeros(N, dtype=torch.bool)
    for _ in range(100):
        _, _, dones, extras = env.step(torch.zeros(N, J))
        assert not extras["time_outs"].any()
        if dones.any():
            log = extras["log"]
            assert log["Episode_Termination/time_out"] == 0.0
            assert max(log[f"Episode_Termination/{r}"] for r in ("base_contact", "bad_orientation", "low_base_height")) > 0
        ended |= dones.bool()
    assert ended.all()


def test_stands_five_seconds_on_stiff_gains_with_zero_actions():
    """Recipe gains cannot hold the default pose (envs/robots.py: ankle stiffness 2 x 40 N m/rad < m g h), so a
    policy is needed to stand; with 10x stiffer servos the zero action must stand for 5 s without a (false) fall."""
    env = make(g1_flat_play_config())
    scale_gains(env, 10.0, 3.0)
    for _ in range(250):
        _, _, dones, _ = env.step(torch.zeros(N, J))
        assert not dones.any()
    assert (env.backend.root_pos[:, 2] > 0.7).all()


def test_tracking_rewards_peak_at_the_command():
    env = make(g1_flat_play_config())
    task = env.task
    s = task.state(env.episode_length_buf)
    command = torch.tensor([[0.5, -0.3, 0.8]]).repeat(N, 1)
    exact = dataclasses.replace(s, command=command, lin_vel_b=torch.cat([command[:, :2], torch.ones(N, 1)], dim=1),
                                ang_vel_b=torch.cat([torch.ones(N, 2), command[:, 2:]], dim=1))
    for fn in (track_lin_vel_xy, track_ang_vel_z):
        best = fn(exact, task.context)
        assert best == pytest.approx([1.0] * N)
        for delta in (-0.3, -0.05, 0.05, 0.3):
            off = dataclasses.replace(exact, lin_vel_b=exact.lin_vel_b + delta, ang_vel_b=exact.ang_vel_b + delta)
            assert (fn(off, task.context) < best).all()


def test_commands_random_and_scheduled():
    n, dt = 4000, 0.02
    identity = torch.tensor([[1.0, 0.0, 0.0, 0.0]]).repeat(n, 1)
    cfg = CommandsConfig()
    commands = VelocityCommand(cfg, n, dt, torch.Generator().manual_seed(0), torch.device("cpu"))
    commands.update(torch.zeros(n, dtype=torch.long), identity)  # episode start: every env draws
    c = commands.command
    assert ((c[:, :2].norm(dim=1) == 0) | (c[:, :2].norm(dim=1) > 0.2)).all()
    for i, (low, high) in enumerate((cfg.lin_vel_x, cfg.lin_vel_y, cfg.ang_vel_yaw)):
        assert low <= c[:, i].min() < low + 0.05 and high - 0.05 < c[:, i].max() <= high
    assert 0.07 < (c == 0).all(dim=1).float().mean() < 0.13  # rel_standing_envs = 0.1 (+ a few slow draws)
    # rel_zero_axis: each axis zeroed on its own; turn-in-place goes from ~6% of draws (dead band) to ~18%
    # (0.9 * 0.5 * P(the other linear axes zeroed or in the dead band)).
    def turn_in_place(c):
        return ((c[:, :2] == 0).all(dim=1) & (c[:, 2] != 0)).float().mean()

    assert turn_in_place(c) < 0.08
    cfg.rel_zero_axis = 0.5
    commands = VelocityCommand(cfg, n, dt, torch.Generator().manual_seed(0), torch.device("cpu"))
    commands.update(torch.zeros(n, dtype=torch.long), identity)
    c = commands.command
    assert 0.15 < turn_in_place(c) < 0.22
    assert 0.05 < ((c[:, 0] == 0) & (c[:, 1] != 0) & (c[:, 2] == 0)).float().mean() < 0.1  # pure side-step
    assert 0.24 < (c == 0).all(dim=1).float().mean() < 0.32  # standing: 0.1 + 0.9 * 0.5 * 0.41
    cfg.rel_zero_axis = 0.0
    # Heading mode: yaw rate = clip(0.5 * (heading - yaw)).
    cfg.rel_heading_envs = 1.0
    commands = VelocityCommand(cfg, n, dt, torch.Generator().manual_seed(0), torch.device("cpu"))
    commands.update(torch.zeros(n, dtype=torch.long), identity)
    moving = commands.heading_mode
    assert moving.float().mean() > 0.85
    assert commands.command[moving, 2] == pytest.approx(
        (0.5 * commands.heading[moving]).clamp(*cfg.ang_vel_yaw).tolist(), abs=1e-6)

    play = g1_flat_play_config().commands
    scheduled = VelocityCommand(play, 3, dt, torch.Generator(), torch.device("cpu"))
    scheduled.update(torch.tensor([0, int(3.5 / dt), int(21.0 / dt)]), identity[:3])  # 21 s: the loop restarts
    assert scheduled.command.tolist() == [[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 0.0]]


def test_default_terms_are_the_built_in_ones():
    """Every built-in reward term is used once under its own name; the sharp tracking terms of the switch at
    iteration 700 are the second uses of built-ins (``track_lin_vel_xy`` and ``track_ang_vel_z`` at another sigma)."""
    cfg = G1FlatConfig()
    funcs = {name: entry.func for name, entry in cfg.rewards.items()}
    assert funcs.pop("track_lin_fine") == "track_lin_vel_xy"
    assert funcs.pop("track_yaw_fine") == "track_ang_vel_z"
    assert list(funcs.values()) == list(REWARD_TERMS) == list(funcs)
    assert [entry.func for entry in cfg.terminations.values()] == list(TERMINATION_TERMS) == list(cfg.terminations)


def test_same_seed_same_rollout():
    actions = random_actions(60)
    runs = []
    for seed in (3, 3, 4):
        env = make(seed=seed)
        obs = [env.get_observations()["policy"]]
        for a in actions:
            obs.append(env.step(a)[0]["policy"])
        runs.append(torch.stack(obs))
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_backend_choice_errors(monkeypatch):
    with pytest.raises(ConfigError, match="Unknown backend 'bullet'. Valid: mujoco, mjwarp"):
        make(G1FlatConfig(backend="bullet"))
    monkeypatch.setitem(sys.modules, "fpo_locomotion.envs.mjwarp_backend", None)  # import fails
    with pytest.raises(ConfigError, match=r'pip install "\.\[gpu\]"'):
        make(G1FlatConfig(backend="mjwarp"))


@pytest.mark.parametrize("algo", ["fpo", "ppo"])
def test_one_training_iteration(tmp_path, algo):
    small = ("train.runner.num_steps_per_env=4", "train.flow_actor.hidden_dims=[32,32]",
             "train.gaussian_actor.hidden_dims=[32,32]", "train.critic.hidden_dims=[32,32]",
             "train.flow_actor.flow_steps=2", "train.flow_actor.num_mc=2", "train.fpo.num_learning_epochs=1",
             "train.ppo.num_learning_epochs=1", "env.num_threads=1")
    run_dir = train(TrainArgs(task="G1-Flat", algo=algo, num_envs=N, max_iterations=1, log_root=str(tmp_path),
                              overrides=small))
    assert (tmp_path / "G1-Flat").is_dir() and run_dir.endswith(algo)


def test_deploy_metadata_fits_the_policy_observation():
    """Keys, layout and sizes; tests/test_deploy.py rebuilds the observation from the exported metadata."""
    spec = get_task("G1-Flat-Play")
    cfg = spec.env_cfg()
    cfg.num_threads = 1
    env = spec.make_env(cfg, num_envs=N, seed=0)
    meta = env.deploy_metadata()
    assert set(meta) == DEPLOY_KEYS and json.loads(json.dumps(meta)) == meta
    assert sum(t["size"] for t in meta["observation_terms"]) == env.get_observations()["policy"].shape[1]
    assert [t["name"] for t in meta["observation_terms"]] == [
        "base_ang_vel", "projected_gravity", "command", "joint_pos", "joint_vel", "last_action", "gait_phase"]
    assert len(meta["joint_names"]) == len(meta["kp"]) == J and meta["model"] == "unitree_g1/g1_12dof.xml"
    assert meta["control_dt"] == pytest.approx(meta["physics_dt"] * meta["decimation"])


def test_disturbances_grow_with_the_curriculum_from_nominal_to_the_configured_ranges():
    cfg = G1FlatConfig()
    cfg.disturbance_curriculum = [10, 30]
    env = make(cfg, num_envs=64)
    task = env.task
    assert task.disturbance_level() == 0.0 and (task.obs_params.friction == 1.0).all()  # nominal at the start
    assert (task.obs_params.added_base_mass == 0.0).all()
    task.common_step = 20
    assert task.disturbance_level() == pytest.approx(0.5)
    task.common_step = 30
    task.reset(torch.arange(64))
    low, high = cfg.events["friction"].params["range"]
    friction = task.obs_params.friction
    assert task.disturbance_level() == 1.0 and low <= friction.min() < low + 0.1 and high - 0.1 < friction.max() <= high
    full = G1FlatConfig()
    full.disturbance_curriculum = [0, 0]  # full at once: the envs start randomized
    assert make(full).task.obs_params.friction.std() > 0.1


def test_interval_events_push_each_env_every_interval_once_disturbances_start():
    cfg = G1FlatConfig()
    cfg.events = {"push": cfg.events["push"]}
    cfg.events["push"].interval_s = 0.1  # every 5 control steps
    cfg.disturbance_curriculum = [3, 3]
    env = make(cfg, num_envs=2)
    pushed = []
    env.task.event_fns["push"] = lambda e, env_ids: pushed.append(env.episode_length_buf[env_ids].tolist())
    with torch.inference_mode():
        for _ in range(12):
            env.step(torch.zeros(2, J))
    assert pushed == [[5, 5], [10, 10]]  # each env at steps 5 and 10 of its episode, not at 0


def test_feet_air_time_pays_single_stance_steps_under_a_moving_command_only():
    env = make(g1_flat_play_config())
    task = env.task
    s = task.state(env.episode_length_buf)
    feet = s.foot_contact.shape[1]
    step = dataclasses.replace(
        s, foot_contact=torch.tensor([[True, False]]).repeat(N, 1)[:, :feet],
        foot_contact_time=torch.full((N, feet), 0.3), foot_air_time=torch.full((N, feet), 0.25),
        command=torch.tensor([[0.5, 0.0, 0.0], [0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.5, 0.0, 0.0]]),
        standing=torch.tensor([False, True, False, False]))
    step.foot_contact[3] = True  # double stance
    reward = REWARD_TERMS["feet_air_time"](step, task.context)
    assert reward.tolist() == pytest.approx([0.25, 0.0, 0.25, 0.0])


def test_termination_penalty_counts_falls_not_time_outs():
    env = make(g1_flat_play_config())
    scale_gains(env, 0.0, 0.0)
    penalties = []
    for _ in range(100):
        _, _, dones, extras = env.step(torch.zeros(N, J))
        penalties.append(extras["log"]["Episode_Reward/termination"] if dones.any() else None)
    assert any(p is not None and p < 0 for p in penalties)


def test_reward_weight_curriculum_switches_a_weight_at_its_step():
    """``weight_steps`` (Isaac Lab's modify_reward_weight): the yaw term pays 0.5 until step 3, then 1.0; a second yaw term of
    weight 0 with a scheduled weight is computed (at 0) from the start."""
    cfg = g1_flat_play_config()
    cfg.rewards["track_ang_vel_z"].weight_steps = [[3, 1.0]]
    cfg.rewards["yaw_again"] = dataclasses.replace(cfg.rewards["track_ang_vel_z"], weight=0.0, weight_steps=[[2, 0.3]])
    env = make(cfg)
    task, dt = env.task, env.backend.control_dt
    names = task.reward_names
    weights = []
    for _ in range(5):
        env.step(torch.zeros(N, J))
        weights.append(task.reward_weights[[names.index("track_ang_vel_z"), names.index("yaw_again")], 0] / dt)
    # the env's construction takes control step 1 (its first post_step), so the k-th env.step evaluates step k + 1
    expected = torch.tensor([[0.5, 0.0], [0.5, 0.3], [1.0, 0.3], [1.0, 0.3], [1.0, 0.3]])
    torch.testing.assert_close(torch.stack(weights), expected)
    task.common_step = 0  # a jump, as --resume sets it: the weights follow
    env.step(torch.zeros(N, J))
    assert (task.reward_weights[names.index("track_ang_vel_z"), 0] / dt).item() == pytest.approx(0.5)
    cfg.rewards["track_ang_vel_z"].weight_steps = [[300, 1.0], [100, 0.5]]
    with pytest.raises(ConfigError, match=r"'env.rewards.track_ang_vel_z.weight_steps' must be \[\[step, weight\], ...\] "
                                          r"in rising step order"):
        make(cfg)


def test_the_task_package_imports_no_simulator():
    """Tasks see physics only through the backend interface: no module under tasks/ imports mujoco or warp."""
    import ast
    import pathlib

    import fpo_locomotion.tasks as tasks_package

    for path in pathlib.Path(tasks_package.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] in ("mujoco", "warp", "mujoco_warp") for n in names), (path, names)


def test_observation_history_is_term_major_oldest_first_and_restarts_with_each_episode():
    cfg = G1FlatConfig()
    cfg.observations.history_length = 3
    env, plain = make(cfg), make()
    first = env.get_observations()["policy"]
    frames = first[:, :9].reshape(N, 3, 3)  # base_ang_vel: 3 frames of 3
    assert first.shape == (N, 3 * 47) and torch.equal(frames[:, 0], frames[:, 2])  # an episode starts filled
    assert torch.equal(env.get_observations()["policy"], first)  # observing the same step again adds no frame
    actions = random_actions(3)
    for step in range(3):
        previous = env.get_observations()["policy"]
        obs, _, dones, _ = env.step(actions[step])
        current, single = obs["policy"], plain.step(actions[step])[0]["policy"]
        assert not dones.any()
        assert torch.equal(current[:, 0:6], previous[:, 3:9])  # frames move one place towards the oldest
        assert torch.allclose(current[:, 6:9], single[:, 0:3])  # the newest frame is the observation without history
        assert torch.allclose(current[:, -2:], single[:, -2:])  # ... of every term (gait_phase is the last)
    env.episode_length_buf[0] = env.max_episode_length - 1  # env 0 times out and starts again
    obs, _, dones, _ = env.step(torch.zeros(N, J))
    restarted = obs["policy"][0, :9].reshape(3, 3)
    assert dones[0] and torch.equal(restarted[0], restarted[2]) and not torch.equal(obs["policy"][1, 0:3], obs["policy"][1, 6:9])
    terms = env.deploy_metadata()["observation_terms"]
    assert [(t["size"], t["history_length"]) for t in terms[:3]] == [(9, 3), (9, 3), (9, 3)]
    cfg.observations.history_length = 0
    with pytest.raises(ConfigError, match="'env.observations.history_length': .* positive integer .* got 0"):
        make(cfg)
