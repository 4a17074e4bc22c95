"""The project's own G1 MJCF (resources/unitree_g1/g1_12dof.xml) against its RobotSpec and Unitree's model.

Comparisons with Unitree's reference model need ``../shared/assets/unitree_g1`` (or ``$FPO_SHARED_DIR``)
and are skipped where it is absent.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import mujoco
import numpy as np
import pytest

from fpo_locomotion.envs.robots import G1_12DOF, G1_12DOF_FOOT_GEOM_NAMES, G1_12DOF_MODEL_PATH, G1_12DOF_STANDING_HEIGHT

SHARED_DIR = Path(os.environ.get("FPO_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
REF_DIR = SHARED_DIR / "assets" / "unitree_g1"

SPEC = G1_12DOF
Q0 = np.array(SPEC.default_joint_pos)
KP = np.array(SPEC.kp)
KD = np.array(SPEC.kd)
EFFORT = np.array(SPEC.effort_limit)
TOTAL_MASS = 32.107  # kg, Unitree's G1 12-DoF description


def _load_reference(with_floor: bool = True) -> mujoco.MjModel:
    """Unitree's g1_12dof.xml, with the missing torso mesh swapped for the rev 1.0 shell (see the shared README)."""
    xml = (REF_DIR / "g1_12dof.xml").read_text()
    xml = xml.replace("torso_link_23dof_rev_1_0.STL", "torso_link_rev_1_0.STL")
    xml = re.sub(r'meshdir="[^"]*"', f'meshdir="{(REF_DIR / "meshes").as_posix()}/"', xml)
    if with_floor:  # the reference file has no ground
        xml = xml.replace("<worldbody>", '<worldbody><geom name="floor" type="plane" size="0 0 0.05"/>', 1)
    model = mujoco.MjModel.from_xml_string(xml)
    model.opt.timestep = 0.005  # the recipe's physics step
    return model


@pytest.fixture(scope="module")
def model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(str(G1_12DOF_MODEL_PATH))


@pytest.fixture(scope="module")
def ref() -> mujoco.MjModel:
    if not (REF_DIR / "g1_12dof.xml").is_file():
        pytest.skip(f"Unitree reference model not found under {REF_DIR}")
    return _load_reference()


def _hinge_names(m: mujoco.MjModel) -> list[str]:
    return [m.joint(j).name for j in range(m.njnt) if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE]


def _pelvis_up(d: mujoco.MjData, pelvis_id: int) -> float:
    """z component of the pelvis z axis (1 = upright)."""
    return float(d.xmat[pelvis_id][8])


def _pitch(d: mujoco.MjData, pelvis_id: int) -> float:
    r = d.xmat[pelvis_id].reshape(3, 3)
    return float(np.arctan2(r[0, 2], r[2, 2]))


def _set_servos(m: mujoco.MjModel, kp: np.ndarray, kd: np.ndarray) -> None:
    """Make every actuator a position servo (torque = kp (ctrl - q) - kd qdot, effort-clipped), kv implicit."""
    m.actuator_gaintype[:] = mujoco.mjtGain.mjGAIN_FIXED
    m.actuator_biastype[:] = mujoco.mjtBias.mjBIAS_AFFINE
    m.actuator_gainprm[:] = 0.0
    m.actuator_biasprm[:] = 0.0
    m.actuator_gainprm[:, 0] = kp
    m.actuator_biasprm[:, 1] = -kp
    m.actuator_biasprm[:, 2] = -kd
    m.actuator_forcelimited[:] = 1
    m.actuator_forcerange[:] = np.stack([-EFFORT, EFFORT], axis=1)
    m.opt.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST


STIFF_KP = np.where(["ankle" in n for n in SPEC.joint_names], 10.0, 1.0) * KP
"""Recipe gains with 10x stiffer ankles: enough to hold the default pose statically."""


def _reset(m: mujoco.MjModel, height: float) -> mujoco.MjData:
    d = mujoco.MjData(m)
    d.qpos[2] = height
    d.qpos[7:] = Q0
    d.ctrl[:] = Q0
    mujoco.mj_forward(m, d)
    return d


# ----------------------------------------------------------------------------------------------- structure


def test_structure_and_options(model):
    assert model.nq == 7 + 12 and model.nv == 6 + 12 and model.nu == 12
    assert model.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE
    assert model.body(model.jnt_bodyid[0]).name == SPEC.base_body_name == "pelvis"
    assert _hinge_names(model) == SPEC.joint_names
    assert model.opt.timestep == pytest.approx(0.005)
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    for body, geom in zip(SPEC.foot_body_names, G1_12DOF_FOOT_GEOM_NAMES, strict=True):
        assert model.geom(geom).bodyid[0] == model.body(body).id
    assert model.geom("floor").friction[0] == pytest.approx(1.0)
    assert len(Q0) == len(KP) == len(KD) == len(EFFORT) == 12


def test_total_mass(model):
    assert model.body_subtreemass[0] == pytest.approx(TOTAL_MASS, rel=0.01)


def test_actuators_match_spec(model):
    names = [model.actuator(a).name for a in range(model.nu)]
    assert names == SPEC.joint_names
    joints = [model.joint(model.actuator_trnid[a, 0]).name for a in range(model.nu)]
    assert joints == SPEC.joint_names
    assert np.all(model.actuator_trntype == mujoco.mjtTrn.mjTRN_JOINT)
    np.testing.assert_allclose(model.actuator_gainprm[:, 0], KP)
    np.testing.assert_allclose(model.actuator_biasprm[:, 1], -KP)
    np.testing.assert_allclose(model.actuator_biasprm[:, 2], -KD)
    assert np.all(model.actuator_forcelimited == 1)
    np.testing.assert_allclose(model.actuator_forcerange, np.stack([-EFFORT, EFFORT], axis=1))
    hinge = model.jnt_type == mujoco.mjtJoint.mjJNT_HINGE
    np.testing.assert_allclose(model.jnt_actfrcrange[hinge], np.stack([-EFFORT, EFFORT], axis=1))


def test_default_pose_within_limits_and_touchdown_height(model):
    d = _reset(model, SPEC.default_base_height)
    hinge = model.jnt_type == mujoco.mjtJoint.mjJNT_HINGE
    lo, hi = model.jnt_range[hinge].T
    assert np.all((Q0 > lo) & (Q0 < hi))
    # Resetting at the default base height leaves the soles just above the floor (0-1 cm), feet flat.
    sole = []
    for geom in G1_12DOF_FOOT_GEOM_NAMES:
        g = model.geom(geom)
        corners = np.array([[sx, sy, -1.0] for sx in (-1, 1) for sy in (-1, 1)]) * g.size
        world = d.geom(geom).xpos + corners @ d.geom(geom).xmat.reshape(3, 3).T
        sole.append(world[:, 2])
    sole = np.array(sole)
    assert 0.0 < sole.min() < 0.01
    assert np.ptp(sole) < 1e-3


# ------------------------------------------------------------------------------------------------- physics


def test_stands_when_held_stiffly(model):
    """Held at the default pose with stiff ankles, the robot stands 5 s on its soles only.

    With the recipe's ankle gains (40 N m/rad) the default pose tips forward after ~1 s, in Unitree's model
    as in ours (see ``test_spec_gains_track_reference``): the toppling stiffness m g h (~220 N m/rad)
    exceeds 2 x 40. Ten times stiffer ankles show that the model itself (masses, soles) stands.
    """
    m = copy.copy(model)
    _set_servos(m, STIFF_KP, KD)
    d = _reset(m, SPEC.default_base_height)
    pelvis = m.body("pelvis").id
    feet = {m.geom(g).id for g in G1_12DOF_FOOT_GEOM_NAMES}
    floor = m.geom("floor").id
    for _ in range(int(5.0 / m.opt.timestep)):
        mujoco.mj_step(m, d)
        assert d.qpos[2] > 0.7
        assert _pelvis_up(d, pelvis) > 0.95
    touching = {c.geom2 if c.geom1 == floor else c.geom1 for c in d.contact[: d.ncon]}
    assert touching == feet
    assert d.qpos[2] == pytest.approx(G1_12DOF_STANDING_HEIGHT, abs=0.005)
    assert np.abs(d.qvel).max() < 0.05


def test_falls_without_actuation(model):
    m = copy.copy(model)
    m.actuator_gainprm[:] = 0.0
    m.actuator_biasprm[:] = 0.0
    d = _reset(m, SPEC.default_base_height)
    fell = False
    for _ in range(int(3.0 / m.opt.timestep)):
        mujoco.mj_step(m, d)
        if d.qpos[2] < 0.5:
            fell = True
            break
    assert fell


# --------------------------------------------------------------------------------- against Unitree's model


def test_mass_and_inertials_match_reference(model, ref):
    assert model.body_subtreemass[0] == pytest.approx(ref.body_subtreemass[0], rel=0.01)
    for b in range(1, ref.nbody):
        name = ref.body(b).name
        mine = model.body(name)
        theirs = ref.body(b)
        assert mine.mass[0] == pytest.approx(theirs.mass[0], rel=1e-4), name
        np.testing.assert_allclose(mine.ipos, theirs.ipos, atol=1e-5, err_msg=name)
        inertia = []
        for body in (mine, theirs):
            rot = np.zeros(9)
            mujoco.mju_quat2Mat(rot, body.iquat)
            rot = rot.reshape(3, 3)
            inertia.append(rot @ np.diag(body.inertia) @ rot.T)
        np.testing.assert_allclose(inertia[0], inertia[1], atol=1e-6, err_msg=name)


def test_joints_match_reference(model, ref):
    assert _hinge_names(model) == _hinge_names(ref)
    hinge_m = model.jnt_type == mujoco.mjtJoint.mjJNT_HINGE
    hinge_r = ref.jnt_type == mujoco.mjtJoint.mjJNT_HINGE
    np.testing.assert_allclose(model.jnt_range[hinge_m], ref.jnt_range[hinge_r], atol=1e-6)
    np.testing.assert_allclose(model.jnt_actfrcrange[hinge_m], ref.jnt_actfrcrange[hinge_r], atol=1e-6)
    # Leg dofs only: Unitree's free joint inherits its joint defaults (armature, damping, frictionloss),
    # an artefact our <freejoint> leaves out on purpose.
    np.testing.assert_allclose(model.dof_armature[6:], ref.dof_armature[6:])
    np.testing.assert_allclose(model.dof_damping[6:], ref.dof_damping[6:])
    np.testing.assert_allclose(model.dof_frictionloss[6:], ref.dof_frictionloss[6:])
    assert not model.dof_armature[:6].any() and not model.dof_damping[:6].any() and not model.dof_frictionloss[:6].any()
    np.testing.assert_allclose(model.jnt_axis[hinge_m], ref.jnt_axis[hinge_r], atol=1e-6)


def test_forward_kinematics_match_reference(model, ref):
    """Same qpos (random base pose, random joints within their ranges): every body within 5 mm."""
    rng = np.random.default_rng(0)
    dm, dr = mujoco.MjData(model), mujoco.MjData(ref)
    hinge = model.jnt_type == mujoco.mjtJoint.mjJNT_HINGE
    lo, hi = model.jnt_range[hinge].T
    feet_m = [model.body(n).id for n in SPEC.foot_body_names]
    feet_r = [ref.body(n).id for n in SPEC.foot_body_names]
    bodies = [ref.body(b).name for b in range(1, ref.nbody)]
    worst = 0.0
    for _ in range(20):
        qpos = np.zeros(model.nq)
        qpos[:3] = rng.uniform(-1.0, 1.0, 3)
        quat = rng.normal(size=4)
        qpos[3:7] = quat / np.linalg.norm(quat)
        qpos[7:] = rng.uniform(lo, hi)
        dm.qpos[:] = qpos
        dr.qpos[:] = qpos
        mujoco.mj_kinematics(model, dm)
        mujoco.mj_kinematics(ref, dr)
        err = np.linalg.norm(dm.xpos[feet_m] - dr.xpos[feet_r], axis=1).max()
        worst = max(worst, err)
        np.testing.assert_allclose(dm.xmat[feet_m], dr.xmat[feet_r], atol=1e-3)
        for name in bodies:
            assert np.linalg.norm(dm.body(name).xpos - dr.body(name).xpos) < 0.005, name
    assert worst < 0.005


def test_sole_matches_reference_contact_points(model, ref):
    """Our sole box spans the reference foot's contact spheres: same plane, same heel/toe/width."""
    for foot_body, foot_geom in zip(SPEC.foot_body_names, G1_12DOF_FOOT_GEOM_NAMES, strict=True):
        fid = ref.body(foot_body).id
        spheres = [g for g in range(ref.ngeom) if ref.geom_bodyid[g] == fid and ref.geom_type[g] == mujoco.mjtGeom.mjGEOM_SPHERE]
        pts = np.array([ref.geom_pos[g] for g in spheres])
        bottom = (pts[:, 2] - ref.geom_size[spheres, 0]).min()
        g = model.geom(foot_geom)
        assert g.type[0] == mujoco.mjtGeom.mjGEOM_BOX
        np.testing.assert_allclose(g.quat, [1, 0, 0, 0])
        assert g.pos[2] - g.size[2] == pytest.approx(bottom, abs=1e-4)
        assert g.pos[0] - g.size[0] == pytest.approx(pts[:, 0].min(), abs=0.01)
        assert g.pos[0] + g.size[0] == pytest.approx(pts[:, 0].max(), abs=0.01)
        assert g.size[1] == pytest.approx(np.abs(pts[:, 1]).max(), abs=0.01)


def test_spec_gains_track_reference(model, ref):
    """PD at the recipe's gains towards the default pose: base x, height and pitch follow Unitree's model for 1 s.

    (Unitree's model driven by PD torques through its motors; ours by its position actuators.)
    """
    dm, dr = _reset(model, SPEC.default_base_height), _reset(ref, SPEC.default_base_height)
    pm, pr = model.body("pelvis").id, ref.body("pelvis").id
    for _ in range(200):
        dr.ctrl[:] = np.clip(KP * (Q0 - dr.qpos[7:]) - KD * dr.qvel[6:], -EFFORT, EFFORT)
        mujoco.mj_step(model, dm)
        mujoco.mj_step(ref, dr)
        assert abs(dm.qpos[0] - dr.qpos[0]) < 0.01
        assert abs(dm.qpos[2] - dr.qpos[2]) < 0.01
        assert abs(_pitch(dm, pm) - _pitch(dr, pr)) < 0.02


def test_standing_height_matches_reference(model, ref):
    """Held stiffly in the default pose, both models settle at the same pelvis height (within 3 mm)."""
    heights = []
    for m in (copy.copy(model), copy.copy(ref)):
        _set_servos(m, STIFF_KP, KD)
        d = _reset(m, SPEC.default_base_height)
        for _ in range(200):
            mujoco.mj_step(m, d)
        heights.append(d.qpos[2])
    assert heights[0] == pytest.approx(heights[1], abs=0.003)
    assert heights[0] == pytest.approx(G1_12DOF_STANDING_HEIGHT, abs=0.005)
