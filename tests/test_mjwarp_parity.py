"""MjwarpBackend (on warp's CPU device) against MujocoBackend, the reference: same states, same actions.

Tolerances. MJWarp runs in float32 (MuJoCo: float64) and stops its solver at tolerance 1e-6 (MuJoCo:
1e-8), so the two drift apart by ~1e-6 per contact-rich second while contacts stay in the same mode
(measured here: joint positions 2e-6 rad, pelvis height 1e-6 m over 50 control steps of standing). A
contact-mode flip (stick/slip, a corner touching down) turns such a difference into a macroscopic one
within a few steps, and MJWarp's plane-box collider keeps every box corner under the floor where
MuJoCo keeps at most the 4 lower ones (so a sole sunk deeper than its 2 cm thickness gets more
contacts): the scenarios stay close to standing, and the bounds (1e-3 m, 1e-3 rad) sit 500x above the
float32 drift measured here and far below what a modelling error gives: planted in the MJWarp side of
the standing test, Kp +10%, Kd x2, +1 kg of base mass or half the friction each gave 4e-2 to 8e-2 rad
(and 0.7 to 7 cm of pelvis height).

The first run compiles mjwarp's kernels for the CPU (~2-3 min on 2 cores); warp caches them in
``~/.cache/warp`` (``$WARP_CACHE_PATH``), after which this module takes ~35 s. ``FPO_MJWARP_TEST_DEVICE=cuda``
runs the MJWarp side on a GPU instead (``scripts/gpu_check.sh``); there, where contacts come out of atomic
counters in any order, "bit-identical" checks become 1e-4 checks.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering; must precede the first `import mujoco`

import pytest
import torch

pytest.importorskip("mujoco_warp")
pytest.importorskip("warp")

import warp as wp  # noqa: E402

from fpo_locomotion.envs.backend import BackendConfig  # noqa: E402
from fpo_locomotion.envs.mjwarp_backend import MjwarpBackend  # noqa: E402
from fpo_locomotion.envs.mujoco_backend import MujocoBackend  # noqa: E402
from fpo_locomotion.envs.robots import G1_12DOF  # noqa: E402

SPEC = G1_12DOF
J = len(SPEC.joint_names)
CFG = BackendConfig(num_threads=1)
N = 6
DEVICE = os.environ.get("FPO_MJWARP_TEST_DEVICE", "cpu")
STATE = ["root_pos", "root_quat", "root_lin_vel_w", "root_ang_vel_w", "root_lin_vel_b", "root_ang_vel_b",
         "joint_pos", "joint_vel", "joint_torque", "foot_pos", "foot_contact_force", "base_contact"]
HEIGHT_TOL, JOINT_TOL = 1e-3, 1e-3  # m, rad (see the module docstring)
STIFF_KP, STIFF_KD = 10.0, 3.0  # the G1 stands on ten times Unitree's stiffness (see tests/test_mujoco_backend.py)


def make(num_envs: int, **kwargs) -> MjwarpBackend:
    return MjwarpBackend(CFG, SPEC, num_envs, device=DEVICE, **kwargs)


def make_pair(num_envs: int = N) -> tuple[MjwarpBackend, MujocoBackend]:
    return make(num_envs), MujocoBackend(CFG, SPEC, num_envs)


def assert_same(x: torch.Tensor, y: torch.Tensor, name: str) -> None:
    """Bit-identical on warp's (serial) CPU device; within 1e-4 on a GPU (contact order varies there)."""
    x, y = x.cpu(), y.cpu()
    assert torch.equal(x, y) if DEVICE == "cpu" else torch.allclose(x.float(), y.float(), atol=1e-4), name


def default_targets(num_envs: int) -> torch.Tensor:
    return torch.tensor(SPEC.default_joint_pos).repeat(num_envs, 1)


def near_default_state(num_envs: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Standing-like states: default pose and height plus small random offsets and velocities."""
    z = SPEC.default_base_height + 0.02 * torch.rand(num_envs, 1, generator=gen)
    return {"root_pos": torch.cat([torch.randn(num_envs, 2, generator=gen), z], dim=1),
            "root_quat": torch.nn.functional.normalize(
                torch.tensor([1.0, 0.0, 0.0, 0.0]) + 0.02 * torch.randn(num_envs, 4, generator=gen), dim=-1),
            "root_lin_vel_w": 0.1 * torch.randn(num_envs, 3, generator=gen),
            "root_ang_vel_w": 0.1 * torch.randn(num_envs, 3, generator=gen),
            "joint_pos": default_targets(num_envs) + 0.05 * torch.randn(num_envs, J, generator=gen),
            "joint_vel": 0.2 * torch.randn(num_envs, J, generator=gen)}


def max_errors(a: MjwarpBackend, b: MujocoBackend) -> tuple[float, float]:
    """Largest |difference| of root height (m) and of joint positions (rad) over all envs."""
    return ((a.root_pos[:, 2].cpu() - b.root_pos[:, 2]).abs().max().item(),
            (a.joint_pos.cpu() - b.joint_pos).abs().max().item())


def test_state_tensors_match_and_are_views():
    warp_backend, cpu_backend = make_pair()
    for name in STATE:
        x, y = getattr(warp_backend, name), getattr(cpu_backend, name)
        assert x.shape == y.shape and x.dtype == y.dtype and x.device == warp_backend.device, name
        assert torch.allclose(x.cpu().float(), y.float(), atol=1e-5), name  # both start still in the default pose
    assert warp_backend.control_dt == cpu_backend.control_dt
    # Root and joint state are the simulation's own memory, not copies.
    qpos = wp.to_torch(warp_backend.wp_data.qpos)
    for name in ("root_pos", "root_quat", "joint_pos"):
        assert getattr(warp_backend, name).untyped_storage().data_ptr() == qpos.untyped_storage().data_ptr(), name


def test_standing_parity_with_randomization_and_resets():
    """50 control steps (1 s) of standing from near the default pose, randomized worlds, two envs reset midway."""
    warp_backend, cpu_backend = make_pair()
    gen = torch.Generator().manual_seed(0)
    ids = torch.arange(N)
    start, later = near_default_state(N, gen), near_default_state(2, gen)
    kp_scale = STIFF_KP * (1 + 0.2 * torch.rand(N, J, generator=gen))
    kd_scale = STIFF_KD * (1 + 0.2 * torch.rand(N, J, generator=gen))
    friction, mass = 0.8 + 0.4 * torch.rand(N, generator=gen), -1 + 4 * torch.rand(N, generator=gen)
    for backend in (warp_backend, cpu_backend):
        backend.set_pd_gain_scale(ids, kp_scale, kd_scale)
        backend.set_friction(ids, friction)
        backend.set_base_mass_offset(ids, mass)
        backend.reset(ids, **start)
    worst = [0.0, 0.0]
    for step in range(50):
        if step == 20:
            for backend in (warp_backend, cpu_backend):
                backend.reset(torch.tensor([1, 4]), **later)
        warp_backend.step(default_targets(N))
        cpu_backend.step(default_targets(N))
        worst = [max(w, e) for w, e in zip(worst, max_errors(warp_backend, cpu_backend))]
    assert (cpu_backend.root_pos[:, 2] > 0.7).all()  # all stood: no chaotic fall in the comparison
    assert worst[0] < HEIGHT_TOL and worst[1] < JOINT_TOL, worst
    load_error = (warp_backend.foot_contact_force.cpu() - cpu_backend.foot_contact_force)[..., 2].sum(dim=1).abs()
    assert (load_error < 2.0).all(), load_error  # N, on ~300 N; one kg of base mass weighs 9.8 N
    assert torch.equal(warp_backend.base_contact.cpu(), cpu_backend.base_contact)


def test_random_actions_parity():
    """10 control steps (0.2 s) of random joint targets around the default pose, Unitree's gains."""
    warp_backend, cpu_backend = make_pair()
    gen = torch.Generator().manual_seed(1)
    start = near_default_state(N, gen)
    for backend in (warp_backend, cpu_backend):
        backend.reset(torch.arange(N), **start)
    worst = [0.0, 0.0]
    for _ in range(10):
        action = default_targets(N) + 0.3 * torch.randn(N, J, generator=gen)
        warp_backend.step(action)
        cpu_backend.step(action)
        worst = [max(w, e) for w, e in zip(worst, max_errors(warp_backend, cpu_backend))]
    assert worst[0] < HEIGHT_TOL and worst[1] < JOINT_TOL, worst
    assert torch.allclose(warp_backend.joint_torque.cpu(), cpu_backend.joint_torque, atol=0.05)  # N m, of up to 139


def test_reset_by_mask_leaves_the_other_envs_alone():
    backend, twin = make(4), make(4)
    gen = torch.Generator().manual_seed(2)
    actions = [default_targets(4) + 0.2 * torch.randn(4, J, generator=gen) for _ in range(6)]
    for action in actions[:3]:
        backend.step(action)
        twin.step(action)
    before = {name: getattr(backend, name).clone() for name in ("root_pos", "root_quat", "root_lin_vel_w",
                                                                "root_ang_vel_b", "joint_pos", "joint_vel")}
    ids = torch.tensor([1, 3])
    new = near_default_state(2, gen)
    new["root_pos"][:, 2] = 1.5  # in the air
    backend.reset(ids, **new)
    for name, value in new.items():
        assert torch.allclose(getattr(backend, name)[ids].cpu(), value, atol=1e-6), name
    for name, value in before.items():
        assert torch.equal(getattr(backend, name)[[0, 2]], value[[0, 2]]), name  # untouched memory
    assert (backend.foot_contact_force[ids] == 0).all() and not backend.base_contact[ids].any()
    # The other envs' trajectories do not notice the reset.
    for action in actions[3:]:
        backend.step(action)
        twin.step(action)
    for name in ("root_pos", "joint_pos", "joint_vel"):
        assert_same(getattr(backend, name)[[0, 2]], getattr(twin, name)[[0, 2]], name)


def test_push_adds_base_velocity():
    backend = make(2)
    before_w, before_b = backend.root_lin_vel_w.clone(), backend.root_lin_vel_b.clone()
    backend.push(torch.tensor([0]), torch.tensor([[1.0, -0.5, 0.0]]))
    assert torch.allclose(backend.root_lin_vel_w[0].cpu(), before_w[0].cpu() + torch.tensor([1.0, -0.5, 0.0]))
    assert torch.equal(backend.root_lin_vel_w[1], before_w[1]) and torch.equal(backend.root_lin_vel_b[1], before_b[1])
    assert torch.allclose(backend.root_lin_vel_b[0].cpu(), torch.tensor([1.0, -0.5, 0.0]), atol=1e-6)  # upright base


def test_randomization_changes_only_the_chosen_worlds():
    backend = make(3)
    model = backend.wp_model
    friction0, mass0 = wp.to_torch(model.geom_friction).clone(), wp.to_torch(model.body_mass).clone()
    subtree0, gain0 = wp.to_torch(model.body_subtreemass).clone(), wp.to_torch(model.actuator_gainprm).clone()
    bias0 = wp.to_torch(model.actuator_biasprm).clone()
    backend.set_friction(torch.tensor([1]), torch.tensor([0.4]))
    backend.set_base_mass_offset(torch.tensor([2]), torch.tensor([3.0]))
    backend.set_pd_gain_scale(torch.tensor([2]), torch.full((1, J), STIFF_KP), torch.full((1, J), STIFF_KD))
    friction, mass = wp.to_torch(model.geom_friction), wp.to_torch(model.body_mass)
    subtree, gain, bias = (wp.to_torch(model.body_subtreemass), wp.to_torch(model.actuator_gainprm),
                           wp.to_torch(model.actuator_biasprm))
    base = backend.model.body(SPEC.base_body_name).id
    kp, kd = torch.tensor(SPEC.kp, device=backend.device), torch.tensor(SPEC.kd, device=backend.device)
    assert torch.allclose(friction[1, :, 0], torch.tensor(0.4, device=backend.device))
    assert torch.equal(friction[1, :, 1:], friction0[1, :, 1:])
    assert torch.equal(friction[[0, 2]], friction0[[0, 2]])
    assert mass[2, base].item() == pytest.approx(mass0[2, base].item() + 3.0)
    assert subtree[2, base].item() == pytest.approx(subtree0[2, base].item() + 3.0, rel=1e-6)
    assert torch.equal(mass[[0, 1]], mass0[[0, 1]]) and torch.equal(subtree[[0, 1]], subtree0[[0, 1]])
    assert torch.allclose(gain[2, :J, 0], STIFF_KP * kp) and torch.allclose(bias[2, :J, 1], -STIFF_KP * kp)
    assert torch.allclose(bias[2, :J, 2], -STIFF_KD * kd)
    assert torch.equal(gain[[0, 1]], gain0[[0, 1]]) and torch.equal(bias[[0, 1]], bias0[[0, 1]])
    # The extra base mass shows in the feet's load once every env stands on stiff servos.
    backend.set_pd_gain_scale(torch.arange(3), torch.full((3, J), STIFF_KP), torch.full((3, J), STIFF_KD))
    for _ in range(50):
        backend.step(default_targets(3))
    load = backend.foot_contact_force[..., 2].sum(dim=1)
    assert (load[2] - load[0]).item() == pytest.approx(3.0 * 9.81, rel=0.15)


def test_graphs_match_plain_launches():
    """Captured graphs (CUDA graphs, or warp's CPU capture) compute what plain kernel launches do."""
    graphs, plain = make(2, use_graph=True), make(2, use_graph=False)
    gen = torch.Generator().manual_seed(3)
    for backend in (graphs, plain):
        backend.set_base_mass_offset(torch.tensor([1]), torch.tensor([2.0]))
    for step in range(4):
        action = default_targets(2) + 0.2 * torch.randn(2, J, generator=gen)
        for backend in (graphs, plain):
            if step == 2:
                backend.reset(torch.tensor([0]), **near_default_state(1, torch.Generator().manual_seed(4)))
            backend.step(action)
    for name in STATE:
        assert_same(getattr(graphs, name), getattr(plain, name), name)


def test_render_frame():
    frame = make(1).render(0, width=64, height=48)
    assert frame.shape == (48, 64, 3) and frame.dtype.name == "uint8"
    assert frame.std() > 1.0


def test_g1_trains_on_mjwarp_cpu(tmp_path):
    """``fpo-loco train --task G1-Flat --backend mjwarp`` on a CPU-only machine (warp's CPU device)."""
    from fpo_locomotion.train import TrainArgs, train

    run_dir = train(TrainArgs(task="G1-Flat", num_envs=4, max_iterations=2, log_root=str(tmp_path),
                              overrides=("env.backend=mjwarp", "train.runner.num_steps_per_env=4")))
    assert os.path.isfile(os.path.join(run_dir, "model_1.pt"))
