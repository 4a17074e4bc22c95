"""The deploy contract: a deployer written from docs/deploy.md and the ONNX metadata alone (tests/deployer.py,
no package imports) rebuilds the training env's policy observation on recorded states."""

import numpy as np
import onnxruntime as ort
import pytest
import torch
from deployer import joint_targets, observation, read_metadata
from helpers import randomize_flow_policy, save_untrained

from fpo_locomotion.export import export_policy
from fpo_locomotion.tasks import get_task


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("deploy")
    checkpoint = randomize_flow_policy(save_untrained(tmp / "model_0.pt"))
    return export_policy(checkpoint, str(tmp / "exported"), flow_steps=2)["paths"]["policy"]


def test_metadata_describes_every_term_the_control_law_commands_clock_and_model(exported):
    meta = read_metadata(exported)
    assert meta["metadata_format"] == 2 and meta["policy_type"] == "flow"
    for term in meta["observation_terms"]:
        assert {"name", "size", "scale", "unit", "definition", "training_noise"} <= set(term) and term["definition"]
    assert {"joint_target", "pd", "physics_dt", "decimation", "integrator"} <= set(meta["control_law"])
    assert meta["control_law"]["integrator"] == "implicitfast"
    assert {"frame", "ranges", "dead_band", "standing"} <= set(meta["commands"])
    assert meta["gait_clock"]["leg_offsets"] == [0.0, 0.5] and meta["gait_clock"]["period_s"] == meta["gait_period"]
    assert len(meta["model_sha256"]) == 64


def test_deployer_from_the_docs_rebuilds_the_training_observation(exported):
    meta = read_metadata(exported)
    spec = get_task("G1-Flat-Play")  # no observation noise: the recorded states are the observation's only input
    cfg = spec.env_cfg()
    cfg.num_threads = 1
    env = spec.make_env(cfg, num_envs=4, device="cpu", seed=0)
    session = ort.InferenceSession(exported, providers=["CPUExecutionProvider"])
    b = env.backend
    obs = env.get_observations()["policy"]
    last = np.zeros((4, 12))
    worst = 0.0
    for _ in range(40):
        steps = env.episode_length_buf.numpy()
        for i in range(4):
            rebuilt = observation(meta, quat=b.root_quat[i].double().numpy(), ang_vel=b.root_ang_vel_b[i].double().numpy(),
                                  command=env.task.commands.command[i].double().numpy(), q=b.joint_pos[i].double().numpy(),
                                  dq=b.joint_vel[i].double().numpy(), last_action=last[i], steps_since_start=steps[i])
            worst = max(worst, float(np.abs(rebuilt - obs[i].double().numpy()).max()))
        action = session.run(None, {"obs": obs.numpy()})[0]
        obs, _, dones, _ = env.step(torch.from_numpy(action))
        obs = obs["policy"]
        last = np.where(dones.numpy()[:, None].astype(bool), 0.0, action)  # a new episode starts from 0
    assert worst <= 1e-5
    np.testing.assert_allclose(joint_targets(meta, np.ones(12)),
                               np.asarray(meta["default_joint_pos"]) + meta["action_scale"], atol=1e-12)
