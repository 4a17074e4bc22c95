"""MuJoCo Warp backend: N copies of the robot as the N worlds of one mjwarp ``Data``, on a GPU (or warp's CPU).

Same physics as :mod:`fpo_locomotion.envs.mujoco_backend`: the same compiled model (``compile_model``:
the spec's PD servos as position actuators, ``ctrl`` = joint targets, and the same contact sensors),
stepped by ``mujoco_warp`` in float32 instead of MuJoCo's float64.

- State: the root and joint tensors are views of mjwarp's ``qpos``/``qvel`` (``wp.to_torch``, no copy):
  they change in place with every step/reset, and writing into them writes the simulation. Only the
  derived tensors (base-frame velocities, feet, contacts, torques) are computed, in torch, by ``refresh``.
- Speed: a control step (``decimation`` physics steps), a reset, a forward pass and ``set_const`` each run
  as one captured warp graph, captured on first use: a CUDA graph on a GPU, warp's API capture (APIC) on
  the CPU, where plain launches pay Python overhead for each of the hundreds of kernels of a step
  (README "Simulators": the measured gain).
- Randomization: the model's friction, mass (and the constants derived from it) and actuator gain
  arrays are per world (``put_model(batch_sizes=...)``) and edited in place, so the graphs stay valid.
- Contact forces: MuJoCo's contact sensors (``reduce="netforce"``), which mjwarp evaluates like MuJoCo
  (contact-frame solver forces summed and rotated to the world frame): the same definition as the
  CPU backend, not an approximation such as ``cfrc_ext``.

Needs ``pip install "fpo-locomotion[gpu]"`` (``mujoco-warp`` and ``warp-lang``). The first use of a device
compiles mjwarp's kernels (warp's CPU device: ~100 s of one core) and warp caches them in ``~/.cache/warp``
(or ``$WARP_CACHE_PATH``); later processes load them in seconds.
"""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable

import mujoco
import mujoco_warp as mjw
import numpy as np
import torch
import warp as wp

from fpo_locomotion.envs.backend import Backend, BackendConfig, RobotSpec
from fpo_locomotion.envs.mjcf import addresses, compile_model, consecutive
from fpo_locomotion.envs.rotations import quat_apply, quat_apply_inverse
from fpo_locomotion.rendering import FrameRecorder

NCONMAX = 48
"""Contacts allocated per world, pooled over worlds (one world may hold more). 32 G1s falling and lying on the
floor for 6 s: at most 85 contacts in all, 2.7 per world."""
NJMAX = 128
"""Constraint rows allocated per world (a hard per-world limit; rows beyond it are dropped with a warning). The
same 32 G1s: at most 65 rows in one world (12 joint friction rows, 4 per contact, joint limits)."""

_PER_WORLD_FIELDS = ("geom_friction", "body_mass", "body_subtreemass", "body_invweight0", "dof_invweight0",
                     "actuator_acc0", "actuator_gainprm", "actuator_biasprm")
"""Model arrays with one row per world: those randomized, and the constants ``set_const`` derives from mass."""


class MjwarpBackend(Backend):
    """N envs of one robot on MuJoCo Warp; state tensors as documented in :class:`Backend`.

    Args:
        cfg: physics settings (``num_threads`` is unused: warp's CPU device runs one thread).
        spec: the robot; its joints' qpos/dof/actuator addresses must be consecutive in action order.
        num_envs: N, the number of worlds.
        device: ``"cuda"``, ``"cuda:<i>"`` or ``"cpu"``; every tensor lives there.
        seed: kept for the common backend constructor (the physics draws no random numbers).
        nconmax, njmax: contact and constraint-row allocation per world (see ``NCONMAX``, ``NJMAX``).
        use_graph: run steps, resets and ``set_const`` as captured graphs (else plain kernel launches).

    Timing of the derived quantities (``joint_torque``, ``foot_pos``, ``foot_contact_force``,
    ``base_contact``): as in the CPU backend, after ``step`` they come from the last physics substep's
    forward pass. ``reset`` runs one forward pass over all worlds (mjwarp has no per-world forward), so
    afterwards they describe the current state of every env; the trajectories of the other envs do not
    change (a forward pass leaves the solver warm-start and the state alone).
    """

    def __init__(self, cfg: BackendConfig, spec: RobotSpec, num_envs: int, device: str | torch.device = "cuda",
                 seed: int = 0, *, nconmax: int = NCONMAX, njmax: int = NJMAX, use_graph: bool = True):
        self.cfg, self.spec, self.num_envs, self.seed = cfg, spec, num_envs, seed
        self.device = torch.device(device)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        wp.init()  # idempotent; device_from_torch needs warp's runtime
        self.wp_device = wp.device_from_torch(self.device)
        self.control_dt = cfg.physics_dt * cfg.decimation
        self.model = compile_model(spec, cfg.physics_dt)
        """The nominal MuJoCo model (host), as the CPU backend's."""
        m, n = self.model, num_envs

        adr = addresses(m, spec)
        self._q, self._v, self._act = adr.qpos, adr.dof, consecutive(adr.actuators, "actuators")
        self._root_q = rq = adr.root_qpos
        self._root_v = rv = adr.root_dof
        self._base_id = adr.base_id
        self._nominal_base_mass = float(m.body_mass[adr.base_id])
        self.joint_limits = torch.tensor(adr.joint_range, dtype=torch.float32, device=self.device)
        self._nominal_kp = torch.tensor(spec.kp, device=self.device)
        self._nominal_kd = torch.tensor(spec.kd, device=self.device)
        self._feet = torch.tensor(adr.feet, device=self.device)
        self._foot_found = torch.tensor(adr.foot_found, device=self.device)  # sensor data: found (1), then force (3)
        self._foot_force = torch.tensor(adr.foot_force, device=self.device)
        self._robot_found = adr.robot_found

        with wp.ScopedDevice(self.wp_device):
            self.wp_model = mjw.put_model(m, batch_sizes={name: n for name in _PER_WORLD_FIELDS})
            """The mjwarp model (advanced use); arrays of ``_PER_WORLD_FIELDS`` have one row per world."""
            self.wp_data = mjw.make_data(m, nworld=n, nconmax=nconmax, njmax=njmax)
            """The mjwarp data of all worlds (advanced use)."""
            self._reset_mask_wp = wp.zeros(n, dtype=bool)
        self.use_graph = use_graph and (self.wp_device.is_cpu or wp.is_mempool_enabled(self.wp_device))
        self._graphs: dict[str, wp.Graph] = {}
        self._torch_stream_wp: wp.Stream | None = None

        # Views [N, ...] of the simulation's arrays (float32, no copies).
        d, wm = self.wp_data, self.wp_model
        self._qpos, self._qvel, self._ctrl = wp.to_torch(d.qpos), wp.to_torch(d.qvel), wp.to_torch(d.ctrl)
        self._force, self._xpos, self._sensor = wp.to_torch(d.actuator_force), wp.to_torch(d.xpos), wp.to_torch(d.sensordata)
        self._reset_mask = wp.to_torch(self._reset_mask_wp)
        self._friction = wp.to_torch(wm.geom_friction)  # [N, ngeom, 3]
        self._body_mass = wp.to_torch(wm.body_mass)  # [N, nbody]
        self._gainprm, self._biasprm = wp.to_torch(wm.actuator_gainprm), wp.to_torch(wm.actuator_biasprm)  # [N, nu, 10]

        self.root_pos, self.root_quat = self._qpos[:, rq:rq + 3], self._qpos[:, rq + 3:rq + 7]
        self.root_lin_vel_w = self._qvel[:, rv:rv + 3]
        self.root_ang_vel_b = self._qvel[:, rv + 3:rv + 6]  # a free joint's angular velocity is in its body frame
        self.joint_pos, self.joint_vel = self._qpos[:, self._q], self._qvel[:, self._v]
        self.joint_torque = self._force[:, self._act]
        f = len(spec.foot_body_names)
        zeros = lambda *shape: torch.zeros(*shape, device=self.device)  # noqa: E731
        self.root_lin_vel_b, self.root_ang_vel_w = zeros(n, 3), zeros(n, 3)
        self.foot_pos, self.foot_contact_force = zeros(n, f, 3), zeros(n, f, 3)
        self.base_contact = torch.zeros(n, dtype=torch.bool, device=self.device)

        self._recorder: FrameRecorder | None = None
        self._render_model = copy.copy(m)
        self._render_data = mujoco.MjData(m)

        # Start every env standing still in the default pose.
        self.reset(torch.arange(n, device=self.device),
                   torch.tensor([0.0, 0.0, spec.default_base_height], device=self.device).repeat(n, 1),
                   torch.tensor([1.0, 0.0, 0.0, 0.0], device=self.device).repeat(n, 1), zeros(n, 3), zeros(n, 3),
                   torch.tensor(spec.default_joint_pos, device=self.device).repeat(n, 1),
                   zeros(n, len(spec.joint_names)))

    def _run(self, name: str, launches: Callable[[], None]) -> None:
        """Run ``launches`` (mjwarp calls) on the sim's device, as graph ``name`` (captured on first use).

        On CUDA, warp's stream first waits for torch's current stream (which wrote ``ctrl``/``qpos``), and
        torch's waits for warp's afterwards: the state tensors are ready for the next torch op.
        """
        with wp.ScopedDevice(self.wp_device):
            if self.wp_device.is_cuda:
                torch_stream = self._torch_stream()
                self.wp_device.stream.wait_stream(torch_stream)
            if not self.use_graph:
                launches()
            else:
                if name not in self._graphs:
                    # A garbage collection during capture could record a stale graph's destructor into it.
                    gc_was_enabled = gc.isenabled()
                    gc.disable()
                    try:
                        with wp.ScopedCapture() as capture:
                            launches()
                    finally:
                        if gc_was_enabled:
                            gc.enable()
                    self._graphs[name] = capture.graph
                wp.capture_launch(self._graphs[name])
            if self.wp_device.is_cuda:
                torch_stream.wait_stream(self.wp_device.stream)

    def _torch_stream(self) -> wp.Stream:
        """Torch's current CUDA stream on the sim's device, as a warp stream (wrapper kept while it is current)."""
        stream = torch.cuda.current_stream(self.device)
        if self._torch_stream_wp is None or self._torch_stream_wp.cuda_stream != stream.cuda_stream:
            self._torch_stream_wp = wp.stream_from_torch(stream)
        return self._torch_stream_wp

    def _physics_steps(self) -> None:
        for _ in range(self.cfg.decimation):
            mjw.step(self.wp_model, self.wp_data)

    def refresh(self) -> None:
        """Compute the derived state tensors from the simulation (done by ``step``, ``reset``, ``push``)."""
        self.root_lin_vel_b.copy_(quat_apply_inverse(self.root_quat, self.root_lin_vel_w))
        self.root_ang_vel_w.copy_(quat_apply(self.root_quat, self.root_ang_vel_b))
        # index_select, not advanced indexing: on the CPU the latter spreads small gathers over torch's threads.
        sensor = self._sensor
        self.foot_pos.copy_(self._xpos.index_select(1, self._feet))
        self.foot_contact_force.copy_(sensor.index_select(1, self._foot_force).view(self.foot_contact_force.shape))
        self.base_contact.copy_(sensor[:, self._robot_found] > sensor.index_select(1, self._foot_found).sum(dim=1))

    def step(self, joint_targets: torch.Tensor) -> None:
        """``decimation`` physics steps of every env with PD targets ``joint_targets`` [N, J]."""
        self._ctrl[:, self._act] = joint_targets.detach()
        self._run("step", self._physics_steps)
        self.refresh()

    def reset(self, env_ids: torch.Tensor, root_pos: torch.Tensor, root_quat: torch.Tensor,
              root_lin_vel_w: torch.Tensor, root_ang_vel_w: torch.Tensor,
              joint_pos: torch.Tensor, joint_vel: torch.Tensor) -> None:
        """Set the state of envs ``env_ids`` [M]; other arguments [M, ...] as the state tensors.

        The envs' data restarts from the model defaults (time 0, no solver warm-start), the PD targets
        become ``joint_pos``, and a forward pass makes every state tensor describe the new state.
        """
        ids = env_ids.to(self.device, torch.long)
        f32 = lambda x: x.detach().to(self.device, torch.float32)  # noqa: E731
        self._reset_mask.zero_()
        self._reset_mask[ids] = True
        self._run("reset", lambda: mjw.reset_data(self.wp_model, self.wp_data, reset=self._reset_mask_wp))
        quat = f32(root_quat)
        rq, rv = self._root_q, self._root_v
        self._qpos[ids, rq:rq + 3] = f32(root_pos)
        self._qpos[ids, rq + 3:rq + 7] = quat
        self._qpos[ids, self._q] = f32(joint_pos)
        self._qvel[ids, rv:rv + 3] = f32(root_lin_vel_w)
        self._qvel[ids, rv + 3:rv + 6] = quat_apply_inverse(quat, f32(root_ang_vel_w))
        self._qvel[ids, self._v] = f32(joint_vel)
        self._ctrl[ids, self._act] = f32(joint_pos)
        self._run("forward", lambda: mjw.forward(self.wp_model, self.wp_data))
        self.refresh()

    def set_friction(self, env_ids: torch.Tensor, friction: torch.Tensor) -> None:
        """Sliding friction of every geom (floor included) of envs ``env_ids`` [M] to ``friction`` [M]."""
        self._friction[env_ids.to(self.device, torch.long), :, 0] = friction.to(self.device, torch.float32)[:, None]

    def set_base_mass_offset(self, env_ids: torch.Tensor, mass_offset: torch.Tensor) -> None:
        """Base body mass of envs ``env_ids`` [M] to nominal + ``mass_offset`` [M] kg (inertia unchanged)."""
        ids = env_ids.to(self.device, torch.long)
        self._body_mass[ids, self._base_id] = self._nominal_base_mass + mass_offset.to(self.device, torch.float32)
        # The masses' derived constants (subtree mass, inverse weights) follow, in every world from its own mass.
        self._run("set_const", lambda: mjw.set_const(self.wp_model, self.wp_data))

    def set_pd_gain_scale(self, env_ids: torch.Tensor, kp_scale: torch.Tensor, kd_scale: torch.Tensor) -> None:
        """Kp, Kd of envs ``env_ids`` [M] to nominal times ``kp_scale``, ``kd_scale`` [M, J]."""
        ids = env_ids.to(self.device, torch.long)
        kp = self._nominal_kp * kp_scale.to(self.device, torch.float32)
        kd = self._nominal_kd * kd_scale.to(self.device, torch.float32)
        self._gainprm[ids, self._act, 0] = kp
        self._biasprm[ids, self._act, 1] = -kp
        self._biasprm[ids, self._act, 2] = -kd

    def push(self, env_ids: torch.Tensor, lin_vel_w: torch.Tensor) -> None:
        """Add ``lin_vel_w`` [M, 3] (world frame) to the base linear velocity of envs ``env_ids`` [M]."""
        self.root_lin_vel_w.index_add_(0, env_ids.to(self.device, torch.long), lin_vel_w.to(self.device, torch.float32))
        self.refresh()

    def render(self, env_id: int, width: int, height: int, camera_distance: float = 3.0) -> np.ndarray:
        """RGB frame [height, width, 3] uint8 of env ``env_id``, camera looking at its base.

        Renders with MuJoCo's CPU renderer from a copy of the env's state (nominal model). Needs an OpenGL
        context: set ``MUJOCO_GL=egl`` before importing mujoco on a machine without display.
        """
        m, data, recorder = self._render_model, self._render_data, self._recorder
        if recorder is None or (recorder.renderer.width, recorder.renderer.height) != (width, height):
            if recorder is not None:
                recorder.close()
            self._recorder = recorder = FrameRecorder(m, width, height)
        data.qpos[:] = self._qpos[env_id].cpu().numpy()
        data.qvel[:] = self._qvel[env_id].cpu().numpy()
        mujoco.mj_forward(m, data)
        recorder.camera.distance = camera_distance
        return recorder.frame(data, data.xpos[self._base_id])
