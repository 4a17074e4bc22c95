"""MujocoBackend on the project's G1 12-DoF model: state tensors, PD, contacts, resets, randomization, rendering."""

from __future__ import annotations

import dataclasses
import os

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering; must precede the first `import mujoco`

import mujoco
import numpy as np
import pytest
import torch

from fpo_locomotion.envs.backend import BackendConfig
from fpo_locomotion.envs.mujoco_backend import MujocoBackend
from fpo_locomotion.envs.robots import G1_12DOF
from fpo_locomotion.envs.rotations import rotation_matrices
from fpo_locomotion.errors import ConfigError

SPEC = G1_12DOF
J = len(SPEC.joint_names)
CFG = BackendConfig(num_threads=2)
STAND_STEPS = 250  # 5 s at 50 Hz
# The G1 does not stand on Unitree's gains alone (ankle stiffness 2 x 40 N m/rad < m g h ~ 220 N m/rad,
# see envs/robots.py); ten times stiffer servos hold the default pose.
STIFF_KP, STIFF_KD = 10.0, 3.0


def make(num_envs: int, **cfg) -> MujocoBackend:
    return MujocoBackend(dataclasses.replace(CFG, **cfg), SPEC, num_envs)


def default_targets(num_envs: int) -> torch.Tensor:
    return torch.tensor(SPEC.default_joint_pos).repeat(num_envs, 1)


def stiffen(backend: MujocoBackend, env_ids: torch.Tensor) -> None:
    ones = torch.ones(len(env_ids), J)
    backend.set_pd_gain_scale(env_ids, STIFF_KP * ones, STIFF_KD * ones)


def total_weight(backend: MujocoBackend, env_id: int) -> float:
    model = backend.batch.get_model(env_id)
    return float(model.body_subtreemass[model.body(SPEC.base_body_name).id] * -model.opt.gravity[2])


def to_world(quat: torch.Tensor, vec_b: torch.Tensor) -> torch.Tensor:
    """Base-frame vectors [M, 3] rotated into the world frame by base orientations ``quat`` [M, 4]."""
    rotation = torch.from_numpy(rotation_matrices(quat.double().numpy())).float()
    return (rotation @ vec_b[:, :, None])[:, :, 0]


def state(backend: MujocoBackend) -> dict[str, torch.Tensor]:
    names = ["root_pos", "root_quat", "root_lin_vel_w", "root_ang_vel_w", "root_lin_vel_b", "root_ang_vel_b",
             "joint_pos", "joint_vel", "joint_torque", "foot_pos", "foot_contact_force", "base_contact"]
    return {name: getattr(backend, name).clone() for name in names}


def test_state_tensor_shapes_and_dtypes():
    n, f = 3, len(SPEC.foot_body_names)
    backend = make(n)
    shapes = {"root_pos": (n, 3), "root_quat": (n, 4), "root_lin_vel_w": (n, 3), "root_ang_vel_w": (n, 3),
              "root_lin_vel_b": (n, 3), "root_ang_vel_b": (n, 3), "joint_pos": (n, J), "joint_vel": (n, J),
              "joint_torque": (n, J), "foot_pos": (n, f, 3), "foot_contact_force": (n, f, 3), "base_contact": (n,)}
    for name, tensor in state(backend).items():
        assert tuple(tensor.shape) == shapes[name], name
        assert tensor.dtype == (torch.bool if name == "base_contact" else torch.float32), name
        assert tensor.device == torch.device("cpu")
    assert backend.control_dt == pytest.approx(0.02)
    # Construction leaves every env in the default pose at the default height.
    assert torch.allclose(backend.joint_pos, default_targets(n))
    assert torch.allclose(backend.root_pos[:, 2], torch.full((n,), SPEC.default_base_height))


def test_stands_on_default_pose_and_feet_carry_the_weight():
    backend = make(2)
    stiffen(backend, torch.arange(2))
    for _ in range(STAND_STEPS):
        backend.step(default_targets(2))
        assert not backend.base_contact.any()
    assert (backend.root_pos[:, 2] > 0.7).all()
    up_z = 1 - 2 * (backend.root_quat[:, 1] ** 2 + backend.root_quat[:, 2] ** 2)  # z of the base's z axis
    assert (up_z > 0.99).all()
    feet_z = backend.foot_contact_force[..., 2].sum(dim=1)
    assert feet_z == pytest.approx([total_weight(backend, 0)] * 2, rel=0.1)
    assert (backend.foot_contact_force[..., :2].norm(dim=-1) < 0.05 * feet_z[:, None]).all()


def test_zero_gains_fall_onto_the_base():
    backend = make(2)
    backend.set_pd_gain_scale(torch.tensor([1]), torch.zeros(1, J), torch.zeros(1, J))
    stiffen(backend, torch.tensor([0]))
    touched = torch.zeros(2, dtype=torch.bool)
    for _ in range(100):
        backend.step(default_targets(2))
        touched |= backend.base_contact
    assert touched.tolist() == [False, True]
    assert backend.root_pos[1, 2] < 0.5 < backend.root_pos[0, 2]
    assert backend.joint_torque[1].abs().max() == 0.0


def test_push_adds_base_velocity():
    backend = make(2)
    stiffen(backend, torch.arange(2))
    for _ in range(10):
        backend.step(default_targets(2))
    before = backend.root_lin_vel_w.clone()
    backend.push(torch.tensor([0]), torch.tensor([[1.0, -0.5, 0.0]]))
    assert torch.allclose(backend.root_lin_vel_w[0], before[0] + torch.tensor([1.0, -0.5, 0.0]))
    assert torch.equal(backend.root_lin_vel_w[1], before[1])
    assert torch.allclose(to_world(backend.root_quat, backend.root_lin_vel_b), backend.root_lin_vel_w, atol=1e-5)
    backend.step(default_targets(2))
    assert backend.root_pos[0, 0] > backend.root_pos[1, 0] + 0.01


def test_rotation_matrices_agree_with_mujoco():
    quat = np.random.default_rng(0).standard_normal((20, 4))
    quat /= np.linalg.norm(quat, axis=1, keepdims=True)
    expected = np.zeros((20, 9))
    for q, out in zip(quat, expected):
        mujoco.mju_quat2Mat(out, q)
    np.testing.assert_allclose(rotation_matrices(quat), expected.reshape(20, 3, 3), atol=1e-12)


def test_reset_sets_exactly_the_given_state():
    backend = make(4)
    for _ in range(5):
        backend.step(default_targets(4) + 0.2)
    others = state(backend)
    gen = torch.Generator().manual_seed(0)
    ids = torch.tensor([1, 3])
    quat = torch.nn.functional.normalize(torch.randn(2, 4, generator=gen), dim=-1)
    root_pos = torch.cat([torch.randn(2, 2, generator=gen), torch.full((2, 1), 1.5)], dim=1)
    new = {"root_pos": root_pos, "root_quat": quat,
           "root_lin_vel_w": torch.randn(2, 3, generator=gen), "root_ang_vel_w": torch.randn(2, 3, generator=gen),
           "joint_pos": default_targets(2) + 0.1 * torch.randn(2, J, generator=gen),
           "joint_vel": torch.randn(2, J, generator=gen)}
    backend.reset(ids, **new)
    for name, value in new.items():
        assert torch.allclose(getattr(backend, name)[ids], value, atol=1e-6), name
    after = state(backend)
    for name in others:
        assert torch.equal(after[name][[0, 2]], others[name][[0, 2]]), name
    # Body-frame velocities follow from the new orientation.
    assert torch.allclose(to_world(quat, backend.root_lin_vel_b[ids]), new["root_lin_vel_w"], atol=1e-5)
    assert torch.allclose(to_world(quat, backend.root_ang_vel_b[ids]), new["root_ang_vel_w"], atol=1e-5)
    # Derived quantities describe the new state: the feet hang in the air, above the lifted base's floor.
    assert (backend.foot_contact_force[ids] == 0).all()


def test_same_actions_give_bit_identical_states_at_any_thread_count():
    gen = torch.Generator().manual_seed(1)
    actions = [default_targets(4) + 0.3 * torch.randn(4, J, generator=gen) for _ in range(40)]
    runs = []
    for threads in (1, 2):
        backend = make(4, num_threads=threads)
        backend.set_friction(torch.tensor([2]), torch.tensor([0.3]))
        for a in actions:
            backend.step(a)
        runs.append(state(backend))
    for name in runs[0]:
        assert torch.equal(runs[0][name], runs[1][name]), name


def test_randomization_changes_only_the_chosen_envs():
    backend = make(3)
    nominal = backend.batch.get_model(0)
    base = nominal.body(SPEC.base_body_name).id
    backend.set_friction(torch.tensor([1]), torch.tensor([0.4]))
    backend.set_base_mass_offset(torch.tensor([2]), torch.tensor([3.0]))
    backend.set_pd_gain_scale(torch.tensor([2]), torch.full((1, J), 0.5), torch.full((1, J), 2.0))
    models = [backend.batch.get_model(i) for i in range(3)]
    assert models[1].geom_friction[:, 0] == pytest.approx([0.4] * nominal.ngeom)
    for i in (0, 2):
        assert (models[i].geom_friction == nominal.geom_friction).all()
    assert models[2].body_mass[base] == pytest.approx(nominal.body_mass[base] + 3.0)
    assert models[2].body_subtreemass[base] == pytest.approx(nominal.body_subtreemass[base] + 3.0)
    for i in (0, 1):
        assert (models[i].body_mass == nominal.body_mass).all()
    act = [nominal.actuator(name).id for name in SPEC.joint_names]
    assert models[2].actuator_gainprm[act, 0] == pytest.approx([0.5 * kp for kp in SPEC.kp])
    assert models[2].actuator_biasprm[act, 1] == pytest.approx([-0.5 * kp for kp in SPEC.kp])
    assert models[2].actuator_biasprm[act, 2] == pytest.approx([-2.0 * kd for kd in SPEC.kd])
    assert models[1].actuator_gainprm[act, 0] == pytest.approx(SPEC.kp)
    # A reset keeps each env's randomized model; the extra base mass shows in the feet's load.
    backend.reset(torch.arange(3), backend.root_pos, backend.root_quat, backend.root_lin_vel_w,
                  backend.root_ang_vel_w, backend.joint_pos, backend.joint_vel)
    assert backend.batch.get_model(1).geom_friction[0, 0] == pytest.approx(0.4)
    stiffen(backend, torch.arange(3))
    for _ in range(50):
        backend.step(default_targets(3))
    load = backend.foot_contact_force[..., 2].sum(dim=1)
    assert (load[2] - load[0]).item() == pytest.approx(3.0 * 9.81, rel=0.15)


def test_render_frame():
    import mujoco

    if mujoco.GLContext.__module__ == "mujoco.glfw" and not os.environ.get("DISPLAY"):
        pytest.skip("mujoco was imported before MUJOCO_GL=egl was set and there is no display: "
                    "set os.environ.setdefault('MUJOCO_GL', 'egl') at the top of tests/conftest.py")
    frame = make(1).render(0, width=64, height=48)
    assert frame.shape == (48, 64, 3) and frame.dtype.name == "uint8"
    assert frame.std() > 1.0


def test_raw_physics_benchmark_runs():
    from fpo_locomotion.bench.physics import raw_physics_steps_per_second

    cfg = BackendConfig(num_threads=1)
    assert raw_physics_steps_per_second(cfg, G1_12DOF, num_envs=4, action_scale=0.25, action_std=0.5, seconds=0.05) > 0


def test_train_benchmark_times_each_recipe_with_overrides(capsys, recwarn):
    from fpo_locomotion.bench.train import bench_train

    rows = bench_train("G1-Flat", algos=("ppo", "fpo"), num_envs=4, iterations=1,
                       overrides=("train.runner.num_steps_per_env=2", "train.fpo.use_mixed_precision=true"))
    assert [r["algo"] for r in rows] == ["ppo", "fpo"]
    assert all(r["train_steps_per_s"] > 0 and r["raw_steps_per_s"] > 0 and 0 < r["learn_share"] < 1 for r in rows)
    assert "with train.runner.num_steps_per_env=2 train.fpo.use_mixed_precision=true:" in capsys.readouterr().out
    emulated = not torch.ops.mkldnn._is_mkldnn_bf16_supported()  # FPO's bf16 learner, timed on such a CPU, says so
    assert sum("bf16 is emulated" in str(w.message) for w in recwarn) == emulated
    with pytest.raises(ConfigError, match="num_step_per_env"):
        bench_train("G1-Flat", algos=("ppo",), num_envs=4, iterations=1, overrides=("train.runner.num_step_per_env=2",))
