"""Export: ONNX graphs match torch (fresh K=64 and briefly trained EMA policies; a PPO policy's mean), metadata fits
G1-Flat, bad input is refused."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering; must precede the first `import mujoco`

import glob
import json
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from helpers import ESTIMATED_BASE_VELOCITY, randomize_flow_policy, save_untrained
from tensordict import TensorDict

from fpo_locomotion import export as export_module
from fpo_locomotion.checkpoints import build_policy, load_checkpoint
from fpo_locomotion.envs.robots import G1_12DOF
from fpo_locomotion.errors import CheckpointError, UserError
from fpo_locomotion.export import export_policy
from fpo_locomotion.models.flow_policy import FlowPolicyModule
from fpo_locomotion.train import TrainArgs, resolve_configs, train


def onnx_vs_torch(path, module, inputs, names):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = module(*inputs).numpy()
    (got,) = session.run(None, {n: x.numpy() for n, x in zip(names, inputs)})
    assert got.shape == expected.shape
    return float(np.abs(got - expected).max())


@pytest.fixture(scope="module")
def fresh_k64(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fresh")
    checkpoint = randomize_flow_policy(save_untrained(tmp / "model_0.pt", overrides=["train.flow_actor.flow_steps=64"]))
    return checkpoint, export_policy(checkpoint, str(tmp / "exported"))


def test_fresh_g1_policy_round_trip_k64(fresh_k64):
    checkpoint, result = fresh_k64
    paths, errors = result["paths"], result["errors"]
    assert errors["denoiser"] <= 1e-5 and errors["policy"] <= 1e-4 and errors["policy_stochastic"] <= 1e-4
    assert errors["torchscript"] <= 1e-4
    actor, weights = build_policy(load_checkpoint(checkpoint))
    assert weights == "ema" and actor.flow_steps == 64  # G1-Flat keeps an EMA actor (a copy until ema_start)
    with torch.no_grad():
        obs = 3.0 * torch.randn(8, 47, generator=torch.Generator().manual_seed(0))
        assert FlowPolicyModule(actor, 64)(obs).abs().mean() > 0.1  # a policy that does something
    gen = torch.Generator().manual_seed(1)
    for batch in (1, 33):  # dynamic batch axis
        obs = 3.0 * torch.randn(batch, 47, generator=gen)
        noise = torch.randn(batch, 12, generator=gen)
        reference = FlowPolicyModule(actor, 64).eval()
        assert onnx_vs_torch(paths["policy"], reference, (obs,), ["obs"]) <= 1e-4
        assert onnx_vs_torch(paths["policy_stochastic"], reference, (obs, noise), ["obs", "noise"]) <= 1e-4
        x_t, t = torch.randn(batch, 12, generator=gen), torch.rand(batch, generator=gen)
        denoiser = lambda o, x, tt: actor.net(actor.obs_normalizer(o), x, tt)  # noqa: E731
        assert onnx_vs_torch(paths["denoiser"], denoiser, (obs, x_t, t), ["obs", "x_t", "t"]) <= 1e-5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated upstream; deploy scripts use it
        scripted = torch.jit.load(paths["torchscript"])
    obs = torch.randn(5, 47)
    with torch.no_grad():
        assert torch.allclose(scripted(obs), FlowPolicyModule(actor, 64)(obs), atol=1e-4)

    graph = onnx.load(paths["policy"])
    assert graph.opset_import[0].version == 18
    assert [i.name for i in graph.graph.input] == ["obs"] and [o.name for o in graph.graph.output] == ["actions"]
    dims = [d.dim_param or d.dim_value for d in graph.graph.output[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 12]
    assert [i.name for i in onnx.load(paths["denoiser"]).graph.input] == ["obs", "x_t", "t"]


def test_metadata_is_complete_and_matches_the_g1_config(fresh_k64):
    _, result = fresh_k64
    props = {p.key: json.loads(p.value) for p in onnx.load(result["paths"]["policy"]).metadata_props}
    cfg = resolve_configs("G1-Flat")[1]
    assert props["task"] == "G1-Flat" and props["algo"] == "fpo" and props["noise_init"] == "zeros"
    assert props["obs_dim"] == 47 and props["action_dim"] == 12 and props["flow_steps"] == 64
    assert props["joint_names"] == G1_12DOF.joint_names
    assert props["default_joint_pos"] == G1_12DOF.default_joint_pos
    assert props["kp"] == G1_12DOF.kp and props["kd"] == G1_12DOF.kd and props["effort_limit"] == G1_12DOF.effort_limit
    assert props["action_scale"] == cfg.action_scale and props["gait_period"] == cfg.gait_period
    assert props["physics_dt"] == cfg.physics_dt and props["decimation"] == cfg.decimation
    assert props["control_dt"] == pytest.approx(cfg.physics_dt * cfg.decimation)
    assert [t["name"] for t in props["observation_terms"]] == [
        "base_ang_vel", "projected_gravity", "command", "joint_pos", "joint_vel", "last_action", "gait_phase"]
    assert [t["size"] for t in props["observation_terms"]] == [3, 3, 3, 12, 12, 12, 2]
    assert props["observation_terms"][2]["scale"] == [2.0, 2.0, 0.25]
    assert props["command_names"] == ["lin_vel_x", "lin_vel_y", "ang_vel_yaw"]
    assert props["command_ranges"] == [cfg.commands.lin_vel_x, cfg.commands.lin_vel_y, cfg.commands.ang_vel_yaw]
    assert props["model"] == "unitree_g1/g1_12dof.xml"
    stochastic = {p.key: json.loads(p.value) for p in onnx.load(result["paths"]["policy_stochastic"]).metadata_props}
    assert stochastic["noise_init"] == "input"
    on_disk = json.load(open(result["paths"]["metadata"]))
    assert on_disk["max_abs_error_vs_torch"] == result["errors"]


def test_briefly_trained_policy_exports_its_ema_weights(tmp_path):
    run_dir = train(TrainArgs(task="G1-Flat", num_envs=4, max_iterations=1, log_root=str(tmp_path), overrides=(
        "train.runner.num_steps_per_env=4", "train.fpo.ema_decay=0.9", "train.fpo.ema_start=0",
        "train.fpo.num_learning_epochs=2")))
    checkpoint = f"{run_dir}/model_0.pt"
    loaded = load_checkpoint(checkpoint)
    ema, raw = build_policy(loaded)[0], build_policy(loaded, use_ema=False)[0]
    assert any(not torch.equal(a, b) for a, b in zip(ema.state_dict().values(), raw.state_dict().values()))

    obs = 2.0 * torch.randn(16, 47)
    for use_ema, actor in ((True, ema), (False, raw)):
        result = export_policy(checkpoint, str(tmp_path / f"ema_{use_ema}"), flow_steps=8, use_ema=use_ema)
        assert result["metadata"]["weights"] == ("ema" if use_ema else "actor") and result["metadata"]["flow_steps"] == 8
        assert result["errors"]["denoiser"] <= 1e-5 and result["errors"]["policy"] <= 1e-4
        assert onnx_vs_torch(result["paths"]["policy"], FlowPolicyModule(actor, 8).eval(), (obs,), ["obs"]) <= 1e-4


def test_ppo_checkpoint_exports_the_gaussian_mean_with_the_same_metadata(tmp_path):
    """The PPO baseline deploys like FPO: policy.onnx (obs -> mean, normalizer baked in) equals rsl_rl's own
    inference policy, with the FPO export's deploy metadata."""
    path = save_untrained(tmp_path / "ppo.pt", algo="ppo")
    saved = torch.load(path, weights_only=True)
    gen = torch.Generator().manual_seed(0)
    weights = saved["actor_state_dict"]
    weights["obs_normalizer._mean"] = torch.randn(1, 47, generator=gen)
    weights["obs_normalizer._std"] = 0.5 + torch.rand(1, 47, generator=gen)
    weights["obs_normalizer._var"] = weights["obs_normalizer._std"] ** 2
    torch.save(saved, path)
    result = export_policy(path, str(tmp_path / "ppo"))
    meta = result["metadata"]
    assert meta["policy_type"] == "gaussian_mean" and meta["algo"] == "ppo" and "flow_steps" not in meta
    assert set(result["paths"]) == {"policy", "torchscript", "metadata"} and max(result["errors"].values()) <= 1e-5
    fpo = export_policy(randomize_flow_policy(save_untrained(tmp_path / "fpo.pt")), str(tmp_path / "fpo"), flow_steps=2)
    deploy_keys = set(fpo["metadata"]) - {"policy_type", "flow_steps", "noise_init", "flow_convention", "weights", "algo"}
    assert {k: meta[k] for k in deploy_keys} == {**{k: fpo["metadata"][k] for k in deploy_keys},
                                                 "checkpoint_iteration": meta["checkpoint_iteration"]}

    spec, env_cfg, train_cfg = resolve_configs("G1-Flat")
    from fpo_locomotion.train import make_env, make_runner

    env = make_env(spec, env_cfg, 2, "cpu", 0)
    runner = make_runner(spec, env, env_cfg, train_cfg, "ppo", None, "cpu")
    runner.load(path)
    policy = runner.get_inference_policy()
    obs = env.get_observations()
    obs["policy"] = weights["obs_normalizer._mean"] + 2 * torch.randn(2, 47, generator=gen)
    with torch.no_grad():
        expected = policy(obs).numpy()
    session = ort.InferenceSession(result["paths"]["policy"], providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"obs": obs["policy"].numpy()})[0], expected, atol=1e-5)
    with pytest.raises(UserError, match="--flow-steps is a flow policy's setting"):
        export_policy(path, str(tmp_path / "k"), flow_steps=4)


def test_an_estimator_ships_inside_every_graph(tmp_path):
    """A flow actor that estimates the base velocity: the graphs take the policy observation only, give the actor's
    actions (its estimate, not the env's true value, feeds the flow) and the metadata names what is estimated."""
    checkpoint = randomize_flow_policy(save_untrained(tmp_path / "model_0.pt", overrides=ESTIMATED_BASE_VELOCITY))
    result = export_policy(checkpoint, str(tmp_path / "exported"))
    assert max(result["errors"].values()) <= 1e-4
    assert result["metadata"]["obs_dim"] == 47
    assert result["metadata"]["estimated_terms"] == {"base_lin_vel": {"func": "base_lin_vel", "scale": 2.0}}
    actor, _ = build_policy(load_checkpoint(checkpoint))
    obs = 2.0 * torch.randn(16, 47, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        actions = actor(TensorDict({"policy": obs, "estimated": torch.full((16, 3), 9.0)}, batch_size=[16]))
        actor.estimator[-1].bias.add_(1.0)  # another estimate: other actions
        moved = (actor(TensorDict({"policy": obs}, batch_size=[16])) - actions).abs().max()
    session = ort.InferenceSession(result["paths"]["policy"], providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"obs": obs.numpy()})
    assert np.abs(got - actions.numpy()).max() <= 1e-4 and moved > 1e-3


def test_corrupt_and_foreign_checkpoints_are_refused(tmp_path):
    corrupt = tmp_path / "model_7.pt"
    corrupt.write_bytes(b"\x80\x02 definitely not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        export_policy(str(corrupt), str(tmp_path / "out"))
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not an fpo-locomotion checkpoint"):
        export_policy(str(foreign), str(tmp_path / "out"))
    assert not glob.glob(str(tmp_path / "out" / "*"))


def test_failed_verification_keeps_no_file(tmp_path, monkeypatch):
    checkpoint = randomize_flow_policy(save_untrained(tmp_path / "pm.pt", task="point-mass-joystick"))
    ok = export_policy(checkpoint, str(tmp_path / "ok"))
    assert ok["metadata"]["task"] == "point-mass-joystick" and "joint_names" not in ok["metadata"]  # a toy task: minimal
    monkeypatch.setattr(export_module, "TOLERANCE", -1.0)
    with pytest.raises(UserError, match="verification failed, nothing written"):
        export_policy(checkpoint, str(tmp_path / "bad"))
    assert os.listdir(tmp_path / "bad") == []
