"""MuJoCo (CPU) backend: N copies of the robot stepped by ``mujoco.batch.Batch`` on a thread pool.

Each env is one simulation of the batch (its own state row and, where randomized, its own friction,
base mass and PD gains). PD control runs inside MuJoCo at the physics rate: every joint of the
RobotSpec is driven by a position servo, ``torque = clip(kp (ctrl - q) - kd qdot, +-effort)``, with
``ctrl`` = the joint target, so a control step is one ``Batch.step(nstep=decimation)`` call.

Why Batch (G1 12-DoF standing, 4 substeps per control step, env-steps per CPU-second on one thread,
64 / 256 envs): Batch 9.6k / 9.9k (the same with per-env friction, mass and gains); mujoco.rollout
9.0k / 9.3k with one shared model, 7.7k / 7.9k with a list of per-env models; a Python loop over
MjData 7.8k / 7.8k. Batch also keeps each env's solver warm-start between control steps (rollout
drops it), writes per-env model fields in place (``expand``), resets and forwards subsets of envs,
and is bit-identical to a plain ``mj_step`` loop at any thread count. Contact forces come from
MuJoCo contact sensors computed inside the step (``cfrc_ext`` is not computed by ``mj_step`` unless
a sensor needs it, and it is a spatial force about the centre of mass that also counts non-floor
contacts).
"""

from __future__ import annotations

import mujoco
import mujoco.batch
import numpy as np
import torch

from fpo_locomotion.envs.backend import Backend, BackendConfig
from fpo_locomotion.envs.mjcf import RobotSpec, addresses, compile_model
from fpo_locomotion.envs.rotations import rotation_matrices
from fpo_locomotion.rendering import FrameRecorder


class MujocoBackend(Backend):
    """N envs of one robot on MuJoCo's CPU engine; state tensors as documented in :class:`Backend`.

    Timing of the derived quantities: as after ``mj_step``, ``joint_torque``, ``foot_pos``,
    ``foot_contact_force`` and ``base_contact`` come from the last physics substep's forward pass,
    i.e. they describe the state one substep (``physics_dt``) before the root/joint state. After
    ``reset`` all of them describe the reset state (``mj_forward``).

    ``seed`` is kept for the common backend constructor: MuJoCo's physics draws no random numbers, so
    same actions (and same randomization calls) give bit-identical states at any thread count.
    """

    def __init__(self, cfg: BackendConfig, spec: RobotSpec, num_envs: int, device: str | torch.device = "cpu",
                 seed: int = 0):
        self.cfg, self.spec, self.num_envs, self.seed = cfg, spec, num_envs, seed
        self.device = torch.device(device)
        self.control_dt = cfg.physics_dt * cfg.decimation
        self.model = compile_model(spec, cfg.physics_dt)
        """The nominal model (every env starts from a copy; ``self.batch.get_model(i)`` is env i's)."""
        m = self.model

        adr = addresses(m, spec)
        self._act, self._q, self._v = adr.actuators, adr.qpos, adr.dof
        self._root_q, self._root_v, self._base_id = adr.root_qpos, adr.root_dof, adr.base_id
        self._feet, self._foot_found = adr.feet, adr.foot_found  # sensor data: found (1), then force (3)
        self._foot_force, self._robot_found = adr.foot_force, adr.robot_found
        self.joint_limits = torch.tensor(adr.joint_range, dtype=torch.float32, device=self.device)
        self._nominal_kp = np.asarray(spec.kp, dtype=np.float64)
        self._nominal_kd = np.asarray(spec.kd, dtype=np.float64)
        self._nominal_base_mass = float(m.body_mass[adr.base_id])

        self.batch = mujoco.batch.Batch(m, num_envs, nthread=cfg.num_threads)
        """The simulations (advanced use: other MjData fields, ``get_model(env_id)``, ``get_data(env_id)``)."""
        # Live float64 arrays [N, ...] of the batch, no copies: qpos, qvel, ctrl are the state rows; the others are
        # outputs refreshed by every batch call.
        self._qpos, self._qvel, self._ctrl, self._force, self._xpos, self._sensor = (
            self.batch.bind(k) for k in ("qpos", "qvel", "ctrl", "actuator_force", "xpos", "sensordata"))

        # The state tensors are column blocks of one float32 array [N, S], filled by numpy in ``refresh``: a few
        # microseconds per array operation where torch's per-op overhead made the same ~40 small copies and
        # rotations cost ~5x more (README Benchmarks, "Environment"). On a CPU device the tensors share the array's memory; on
        # another device they are views of one device tensor that ``refresh`` updates with a single copy.
        n, j, f = num_envs, len(spec.joint_names), len(spec.foot_body_names)
        sizes = {"root_pos": 3, "root_quat": 4, "root_lin_vel_w": 3, "root_ang_vel_w": 3, "root_lin_vel_b": 3,
                 "root_ang_vel_b": 3, "joint_pos": j, "joint_vel": j, "joint_torque": j, "foot_pos": 3 * f,
                 "foot_contact_force": 3 * f}
        self._host = np.zeros((n, sum(sizes.values())), dtype=np.float32)
        self._host_contact = np.zeros(n, dtype=bool)
        host, host_contact = torch.from_numpy(self._host), torch.from_numpy(self._host_contact)
        self._device_copy = self.device.type != "cpu"
        self._state = state = host.to(self.device) if self._device_copy else host
        self.base_contact = host_contact.to(self.device) if self._device_copy else host_contact
        self._cols: dict[str, np.ndarray] = {}
        """Name -> the host array's column block [N, size] of that state tensor."""
        offset = 0
        for name, size in sizes.items():
            self._cols[name] = self._host[:, offset:offset + size]
            view = state[:, offset:offset + size]
            setattr(self, name, view.view(n, f, 3) if name.startswith("foot") else view)
            offset += size

        self._recorder: FrameRecorder | None = None
        self._render_model = None
        self._render_data = None

        # Start every env standing still in the default pose.
        self.reset(torch.arange(n), torch.tensor([0.0, 0.0, spec.default_base_height]).repeat(n, 1),
                   torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(n, 1), torch.zeros(n, 3), torch.zeros(n, 3),
                   torch.tensor(spec.default_joint_pos).repeat(n, 1), torch.zeros(n, j))

    def refresh(self) -> None:
        """Copy the simulation state into the float32 state tensors (done by ``step``, ``reset`` and ``push``)."""
        q, v, sensor, cols = self._qpos, self._qvel, self._sensor, self._cols
        rq, rv = self._root_q, self._root_v
        rotation = rotation_matrices(q[:, rq + 3:rq + 7])  # [N, 3, 3]
        cols["root_pos"][:] = q[:, rq:rq + 3]
        cols["root_quat"][:] = q[:, rq + 3:rq + 7]
        cols["root_lin_vel_w"][:] = v[:, rv:rv + 3]
        cols["root_ang_vel_b"][:] = v[:, rv + 3:rv + 6]  # a free joint's angular velocity is in its body frame
        cols["root_lin_vel_b"][:] = (v[:, None, rv:rv + 3] @ rotation)[:, 0]  # R^T v
        cols["root_ang_vel_w"][:] = (rotation @ v[:, rv + 3:rv + 6, None])[:, :, 0]
        cols["joint_pos"][:] = q[:, self._q]
        cols["joint_vel"][:] = v[:, self._v]
        cols["joint_torque"][:] = self._force[:, self._act]
        cols["foot_pos"][:] = self._xpos[:, self._feet].reshape(self.num_envs, -1)
        cols["foot_contact_force"][:] = sensor[:, self._foot_force]
        self._host_contact[:] = sensor[:, self._robot_found] > sensor[:, self._foot_found].sum(axis=1)
        if self._device_copy:
            self._state.copy_(torch.from_numpy(self._host))
            self.base_contact.copy_(torch.from_numpy(self._host_contact))

    def step(self, joint_targets: torch.Tensor) -> None:
        """``decimation`` physics steps of every env with PD targets ``joint_targets`` [N, J]."""
        self._ctrl[:, self._act] = joint_targets.detach().cpu().numpy()
        self.batch.step(nstep=self.cfg.decimation)
        self.refresh()

    def reset(self, env_ids: torch.Tensor, root_pos: torch.Tensor, root_quat: torch.Tensor,
              root_lin_vel_w: torch.Tensor, root_ang_vel_w: torch.Tensor,
              joint_pos: torch.Tensor, joint_vel: torch.Tensor) -> None:
        """Set the state of envs ``env_ids`` [M]; other arguments [M, ...] as the state tensors.

        The envs' data restarts from the model defaults (time 0, no solver warm-start), the PD targets
        become ``joint_pos``, and ``mj_forward`` makes every state tensor describe the new state.
        """
        ids = env_ids.cpu().numpy()
        arr = lambda x: x.detach().cpu().numpy()  # noqa: E731 (float32; numpy casts when assigning into the float64 rows)
        quat, rq, rv = arr(root_quat).astype(np.float64), self._root_q, self._root_v
        self.batch.reset(ids, stage=mujoco.mjtStage.mjSTAGE_NONE)
        self._qpos[ids, rq:rq + 3] = arr(root_pos)
        self._qpos[ids, rq + 3:rq + 7] = quat
        self._qpos[ids, self._q] = arr(joint_pos)
        self._qvel[ids, rv:rv + 3] = arr(root_lin_vel_w)
        self._qvel[ids, rv + 3:rv + 6] = (arr(root_ang_vel_w)[:, None] @ rotation_matrices(quat))[:, 0]  # R^T w
        self._qvel[ids, self._v] = arr(joint_vel)
        self._ctrl[np.ix_(ids, self._act)] = arr(joint_pos)
        self.batch.forward(ids)
        self.refresh()

    def set_friction(self, env_ids: torch.Tensor, friction: torch.Tensor) -> None:
        """Sliding friction of every geom (floor included) of envs ``env_ids`` [M] to ``friction`` [M]."""
        self.batch.expand("geom_friction")[env_ids.cpu().numpy(), :, 0] = friction.cpu().numpy()[:, None]

    def set_base_mass_offset(self, env_ids: torch.Tensor, mass_offset: torch.Tensor) -> None:
        """Base body mass of envs ``env_ids`` [M] to nominal + ``mass_offset`` [M] kg (inertia unchanged)."""
        ids = env_ids.cpu().numpy()
        self.batch.expand("body_mass")[ids, self._base_id] = self._nominal_base_mass + mass_offset.cpu().double().numpy()
        self.batch.set_const(ids)  # the masses' derived constants (subtree mass, inverse weights) follow

    def set_pd_gain_scale(self, env_ids: torch.Tensor, kp_scale: torch.Tensor, kd_scale: torch.Tensor) -> None:
        """Kp, Kd of envs ``env_ids`` [M] to nominal times ``kp_scale``, ``kd_scale`` [M, J]."""
        rows, act = env_ids.cpu().numpy()[:, None], self._act
        kp = self._nominal_kp * kp_scale.cpu().numpy()
        kd = self._nominal_kd * kd_scale.cpu().numpy()
        self.batch.expand("actuator_gainprm")[rows, act, 0] = kp
        bias = self.batch.expand("actuator_biasprm")
        bias[rows, act, 1] = -kp
        bias[rows, act, 2] = -kd

    def push(self, env_ids: torch.Tensor, lin_vel_w: torch.Tensor) -> None:
        """Add ``lin_vel_w`` [M, 3] (world frame) to the base linear velocity of envs ``env_ids`` [M]."""
        rv = self._root_v
        np.add.at(self._qvel[:, rv:rv + 3], env_ids.cpu().numpy(), lin_vel_w.detach().cpu().numpy())
        self.refresh()

    def render(self, env_id: int, width: int, height: int, camera_distance: float = 3.0) -> np.ndarray:
        """RGB frame [height, width, 3] uint8 of env ``env_id``, camera looking at its base.

        Needs an OpenGL context: set ``MUJOCO_GL=egl`` before importing mujoco on a machine without display.
        """
        recorder = self._recorder
        if recorder is None or (recorder.renderer.width, recorder.renderer.height) != (width, height):
            if recorder is not None:
                recorder.close()
            self._render_model = self.batch.get_model(env_id)
            self._render_data = mujoco.MjData(self._render_model)
            self._recorder = recorder = FrameRecorder(self._render_model, width, height)
        self.batch.get_data(env_id, self._render_data)
        mujoco.mj_forward(self._render_model, self._render_data)
        recorder.camera.distance = camera_distance
        return recorder.frame(self._render_data, self._render_data.xpos[self._base_id])
