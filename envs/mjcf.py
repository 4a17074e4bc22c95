"""The robot's MuJoCo model, torch-free (mujoco + numpy only): the ``RobotSpec``, its PD servos and the addresses
a simulator needs. Both backends and ``fpo-loco sim2sim`` (which runs without torch) build on these functions,
so the PD control a policy is deployed with is the one it was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from fpo_locomotion.errors import UserError

_REDUCE_NETFORCE = 3
"""Contact sensor ``reduce="netforce"``: all matching contacts summed into one force, world frame."""


@dataclass
class RobotSpec:
    """A robot the backends simulate: its MJCF and per-joint control figures, in action order (J joints)."""

    model_path: str
    """MJCF file of the robot on a floor; its actuators of ``joint_names`` become the PD servos below."""
    joint_names: list[str]
    default_joint_pos: list[float]
    kp: list[float]
    kd: list[float]
    effort_limit: list[float]
    foot_body_names: list[str]
    base_body_name: str = "pelvis"
    default_base_height: float = 0.8


def joints(model: mujoco.MjModel, joint_names: list[str]) -> list:
    """The joints ``joint_names`` of ``model``; UserError naming a missing one."""
    try:
        return [model.joint(name) for name in joint_names]
    except KeyError as e:
        raise UserError(f"The robot model has no joint {e}.") from None


def actuator_ids(model: mujoco.MjModel, joint_names: list[str]) -> np.ndarray:
    """Ids [J] of the actuators driving ``joint_names``, in that order (exactly one per joint)."""
    ids = []
    for joint, name in zip(joints(model, joint_names), joint_names):
        (hits,) = np.nonzero((model.actuator_trntype == mujoco.mjtTrn.mjTRN_JOINT) & (model.actuator_trnid[:, 0] == joint.id))
        if len(hits) != 1:
            raise UserError(f"Joint '{name}' needs exactly one actuator in the robot model, found {len(hits)}.")
        ids.append(int(hits[0]))
    return np.array(ids)


def set_pd_servos(model: mujoco.MjModel, joint_names: list[str], kp, kd, effort_limit) -> np.ndarray:
    """Make the actuator of each joint a PD servo, ``torque = clip(kp (ctrl - q) - kd qdot, +-effort)`` with
    ``ctrl`` the joint target (also the joint's own actuator force range); returns the actuator ids [J]."""
    act = actuator_ids(model, joint_names)
    kp, kd, effort = (np.asarray(x, dtype=np.float64) for x in (kp, kd, effort_limit))
    model.actuator_gaintype[act] = mujoco.mjtGain.mjGAIN_FIXED
    model.actuator_biastype[act] = mujoco.mjtBias.mjBIAS_AFFINE
    model.actuator_gear[act] = [1, 0, 0, 0, 0, 0]
    model.actuator_gainprm[act] = 0.0
    model.actuator_biasprm[act] = 0.0
    model.actuator_gainprm[act, 0] = kp
    model.actuator_biasprm[act, 1] = -kp
    model.actuator_biasprm[act, 2] = -kd
    model.actuator_forcelimited[act] = 1
    model.actuator_forcerange[act] = np.stack([-effort, effort], axis=1)
    model.actuator_ctrllimited[act] = 0
    model.jnt_actfrcrange[[j.id for j in joints(model, joint_names)]] = model.actuator_forcerange[act]
    return act


def root_addresses(model: mujoco.MjModel) -> tuple[int, int]:
    """(qpos address, dof address) of the model's one free joint (the floating base)."""
    free = np.nonzero(model.jnt_type == mujoco.mjtJoint.mjJNT_FREE)[0]
    if len(free) != 1:
        raise UserError(f"The robot model needs exactly one free joint (the floating base), found {len(free)}.")
    return int(model.jnt_qposadr[free[0]]), int(model.jnt_dofadr[free[0]])


def compile_model(spec: RobotSpec, physics_dt: float) -> mujoco.MjModel:
    """The MJCF at ``spec.model_path`` compiled for training: ``opt.timestep`` = ``physics_dt``, the spec's PD
    servos (``set_pd_servos``), and contact sensors: per foot ``fpo_foot_contact_<foot>`` (number of contacts
    with the world body's geoms, i.e. the floor, and their net force on the foot, world frame), and
    ``fpo_robot_contact`` (number of contacts of the whole robot with the floor)."""
    mjspec = mujoco.MjSpec.from_file(str(spec.model_path))
    mjspec.option.timestep = physics_dt
    found = 1 << int(mujoco.mjtConDataField.mjCONDATA_FOUND)
    force = 1 << int(mujoco.mjtConDataField.mjCONDATA_FORCE)
    for foot in spec.foot_body_names:
        mjspec.add_sensor(name=f"fpo_foot_contact_{foot}", type=mujoco.mjtSensor.mjSENS_CONTACT,
                          objtype=mujoco.mjtObj.mjOBJ_BODY, objname="world",
                          reftype=mujoco.mjtObj.mjOBJ_BODY, refname=foot,
                          intprm=[found | force, _REDUCE_NETFORCE, 1])
    mjspec.add_sensor(name="fpo_robot_contact", type=mujoco.mjtSensor.mjSENS_CONTACT,
                      objtype=mujoco.mjtObj.mjOBJ_BODY, objname="world",
                      reftype=mujoco.mjtObj.mjOBJ_XBODY, refname=spec.base_body_name, intprm=[found, 0, 1])
    model = mjspec.compile()
    set_pd_servos(model, spec.joint_names, spec.kp, spec.kd, spec.effort_limit)
    return model


def consecutive(ids: np.ndarray, what: str) -> slice:
    """``ids`` [K] as a slice, so that arrays indexed by them stay views; they must be consecutive."""
    if not np.array_equal(ids, np.arange(ids[0], ids[0] + len(ids))):
        raise UserError(f"The {what} of the robot's joints must be consecutive and in action order, got {ids.tolist()}.")
    return slice(int(ids[0]), int(ids[0]) + len(ids))


@dataclass(frozen=True)
class Addresses:
    """Where a backend reads and writes the robot in a model compiled by ``compile_model`` (F feet)."""

    qpos: slice             # the joints' qpos, action order
    joint_range: np.ndarray # [J, 2] (lower, upper) of the joints' MJCF ranges
    dof: slice              # the joints' qvel / qacc
    actuators: np.ndarray   # [J] actuator ids, action order
    root_qpos: int          # the free joint: position (3) then quaternion (4)
    root_dof: int           # linear (3, world frame) then angular (3, body frame) velocity
    base_id: int
    feet: np.ndarray        # [F] foot body ids
    foot_found: np.ndarray  # [F] sensordata address of each foot's contact count
    foot_force: np.ndarray  # [3F] sensordata addresses of the feet's net contact forces (x, y, z per foot)
    robot_found: int        # sensordata address of the robot's floor contact count


def addresses(model: mujoco.MjModel, spec: RobotSpec) -> Addresses:
    """The ``Addresses`` of ``spec``'s robot in ``model``; the joints' addresses must be consecutive."""
    found = joints(model, spec.joint_names)
    root_qpos, root_dof = root_addresses(model)
    foot_adr = [int(model.sensor(f"fpo_foot_contact_{name}").adr[0]) for name in spec.foot_body_names]
    return Addresses(
        qpos=consecutive(np.array([j.qposadr[0] for j in found]), "qpos addresses"),
        joint_range=np.array([j.range for j in found]),
        dof=consecutive(np.array([j.dofadr[0] for j in found]), "dof addresses"),
        actuators=actuator_ids(model, spec.joint_names), root_qpos=root_qpos, root_dof=root_dof,
        base_id=model.body(spec.base_body_name).id,
        feet=np.array([model.body(name).id for name in spec.foot_body_names]),
        foot_found=np.array(foot_adr), foot_force=np.array([a + k for a in foot_adr for k in (1, 2, 3)]),
        robot_found=int(model.sensor("fpo_robot_contact").adr[0]))
