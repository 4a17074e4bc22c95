"""sim2sim: an exported G1 policy runs in MuJoCo with onnxruntime + numpy only, and builds the training observation."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering; must precede the first `import mujoco`

import json
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
import torch
from deployer import read_metadata
from helpers import ESTIMATED_BASE_VELOCITY, randomize_flow_policy, save_untrained

from fpo_locomotion.checkpoints import load_checkpoint
from fpo_locomotion.errors import UserError
from fpo_locomotion.export import export_policy
from fpo_locomotion.play import play_env_config
from fpo_locomotion.sim2sim import MujocoRobot, load_session, parse_commands, reached_time, run_sim2sim
from fpo_locomotion.tasks import get_task


def export_g1(tmp, overrides=()):
    """(checkpoint, policy.onnx) of a freshly initialized G1-Flat flow policy (random output layer), K=4."""
    checkpoint = randomize_flow_policy(save_untrained(tmp / "model_0.pt", "G1-Flat", overrides=overrides))
    return checkpoint, export_policy(checkpoint, str(tmp / "exported"), flow_steps=4)["paths"]["policy"]


@pytest.fixture(scope="module")
def g1_export(tmp_path_factory):
    return export_g1(tmp_path_factory.mktemp("g1"))


def test_sim2sim_runs_5s_with_a_video_and_never_imports_torch(g1_export, tmp_path):
    _, policy = g1_export
    video = tmp_path / "sim2sim.mp4"
    script = textwrap.dedent(f"""
        import json, sys
        from fpo_locomotion.sim2sim import run_sim2sim
        result = run_sim2sim({str(policy)!r}, "0,0,0;0.5,0,0.2", duration=2.5, video={str(video)!r},
                             video_fps=2, width=160, height=120)
        assert "torch" not in sys.modules, "sim2sim imported torch"
        print("RESULT " + json.dumps(result))
    """)
    env = {**os.environ, "MUJOCO_GL": "egl", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert result["duration_s"] == pytest.approx(5.0)
    assert [s["command"] for s in result["segments"]] == [[0.0, 0.0, 0.0], [0.5, 0.0, 0.2]]
    assert isinstance(result["falls"], int) and result["policy_ms_median"] > 0
    assert "|v_xy err|" in done.stdout and "falls:" in done.stdout
    assert video.stat().st_size > 1000


@pytest.fixture(scope="module")
def g1_history_export(tmp_path_factory):
    """As ``g1_export``, observing 3 frames of each term."""
    return export_g1(tmp_path_factory.mktemp("g1_history"), ["env.observations.history_length=3"])


@pytest.fixture(scope="module")
def g1_base_sensors_export(tmp_path_factory):
    """As ``g1_export``, the actor also observing the base linear velocity and the accelerometer."""
    return export_g1(tmp_path_factory.mktemp("g1_base_sensors"), [
        "env.observations.policy.base_lin_vel.func=base_lin_vel", "env.observations.policy.base_lin_vel.scale=2.0",
        "env.observations.policy.base_lin_acc.func=base_lin_acc", "env.observations.policy.base_lin_acc.scale=0.1"])


@pytest.fixture(scope="module")
def g1_estimator_export(tmp_path_factory):
    """As ``g1_export``, the actor estimating the base linear velocity (the estimator inside policy.onnx)."""
    return export_g1(tmp_path_factory.mktemp("g1_estimator"), ESTIMATED_BASE_VELOCITY)


@pytest.mark.parametrize("exported", ["g1_export", "g1_history_export", "g1_base_sensors_export", "g1_estimator_export"])
def test_sim2sim_observation_equals_the_training_env_observation(exported, request):
    """Same actions into the G1-Flat-Play env (torch, batched MuJoCo) and into sim2sim (numpy from metadata only)."""
    checkpoint, policy = request.getfixturevalue(exported)
    command = [0.5, 0.2, 0.3]
    infos = load_checkpoint(checkpoint)["infos"]
    env = get_task("G1-Flat-Play").make_env(play_env_config(infos, "G1-Flat", [[10.0, *command]]),
                                            num_envs=1, device="cpu", seed=0)
    robot = MujocoRobot(read_metadata(policy))
    session = load_session(policy)
    obs_env = env.get_observations()["policy"].numpy()
    worst, frames = 0.0, []
    for _ in range(50):  # 1 s: gait phase, last action, joint and base state all move
        worst = max(worst, float(np.abs(robot.observation(command) - obs_env).max()))
        frames.append(obs_env[0])
        (action,) = session.run(None, {"obs": obs_env})
        obs, _, dones, _ = env.step(torch.from_numpy(action))
        robot.step(action[0].astype(np.float64))
        obs_env = obs["policy"].numpy()
        assert not dones.any()
    terms = read_metadata(policy)["observation_terms"]
    names, sizes = [t["name"] for t in terms], [t["size"] for t in terms]
    end = sum(sizes[:names.index("last_action") + 1])  # last_action's newest frame ends there
    assert worst < 1e-5 and np.abs(obs_env[0, end - 12:end]).max() > 0.05  # ... under non-zero actions
    if "base_lin_acc" in names:  # the accelerometer reads the floor's support (+g up) and the motion on top of it
        start = sum(sizes[:names.index("base_lin_acc")])
        acc = np.array(frames)[:, start:start + 3] / 0.1  # [T, 3] m/s^2
        assert abs(acc[:, 2].mean() - 9.81) < 1.5 and acc.std(axis=0).max() > 0.5


def test_bad_inputs_have_clear_errors(g1_export, tmp_path):
    checkpoint, policy = g1_export
    plain = tmp_path / "plain.onnx"
    model = onnx.load(policy)
    del model.metadata_props[:]
    onnx.save(model, plain)
    with pytest.raises(UserError, match="no fpo-locomotion deploy metadata"):
        run_sim2sim(str(plain), duration=0.1)
    toy = export_policy(save_untrained(tmp_path / "pm.pt", "point-mass-joystick"), str(tmp_path / "pm"))
    with pytest.raises(UserError, match="describes no robot"):
        run_sim2sim(toy["paths"]["policy"], duration=0.1)
    with pytest.raises(UserError, match="not a deterministic policy graph"):
        run_sim2sim(policy.replace("policy.onnx", "denoiser.onnx"), duration=0.1)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not onnx")
    with pytest.raises(UserError, match="not a readable ONNX model"):
        run_sim2sim(str(garbage))
    with pytest.raises(UserError, match="does not exist"):
        run_sim2sim(str(tmp_path / "missing.onnx"))
    with pytest.raises(UserError, match="is not 'vx,vy,wz'"):
        parse_commands("0.5,0;1,0,0")
    assert parse_commands("0.5,0,0; 0,0,1;") == [(0.5, 0.0, 0.0), (0.0, 0.0, 1.0)]


def test_a_ppo_export_runs_in_sim2sim(tmp_path):
    checkpoint = save_untrained(tmp_path / "ppo.pt", "G1-Flat", algo="ppo")
    onnx_path = export_policy(checkpoint, str(tmp_path / "ppo"))["paths"]["policy"]
    result = run_sim2sim(onnx_path, "0.5,0,0", duration=0.5)
    assert result["policy_type"] == "gaussian_mean" and result["flow_steps"] is None and result["segments"][0]["steps"] > 0


def test_reached_time_is_the_start_of_the_first_half_second_near_the_command():
    dt, command = 0.02, [0.0, 0.5, 0.0]
    trace = np.zeros((150, 3))
    trace[50:, 1] = 0.5  # the side-step starts 1 s into the segment
    # the window starting at step 43 holds 7 of 25 steps at rest: its mean vy 0.36 is the first within 0.15 m/s
    assert reached_time(command, trace, dt) == pytest.approx(43 * dt)
    assert reached_time(command, trace[:60], dt) is None  # cut at 1.2 s: every window holds 15+ steps at rest
    slow = trace.copy()
    slow[:, 1] = 0.34  # 0.16 m/s short throughout
    assert reached_time(command, slow, dt) is None
    drifting = trace.copy()
    drifting[:, 2] = 0.25  # on speed but yawing 0.25 rad/s
    assert reached_time(command, drifting, dt) is None
