"""``LocomotionVecEnv``: a locomotion task on a physics backend, behind rsl_rl's ``VecEnv`` interface.

The same class runs every backend (``mujoco`` on the CPU, ``mjwarp`` on the GPU): it only touches the
backend through :class:`~fpo_locomotion.envs.backend.Backend` and the task through :class:`LocomotionTask`.

One ``step(actions)``:
  1. joint targets ``q* = q0 + action_scale * actions`` -> ``backend.step`` (``decimation`` PD substeps);
  2. ``task.evaluate``: reward [N], reward terms, fall terminations, metrics; time-outs at
     ``max_episode_length`` steps;
  3. envs that are done log their episode statistics and restart (``task.initial_state`` -> ``backend.reset``
     -> ``task.reset``);
  4. ``task.post_step``: commands, pushes; then the observations.

``extras["log"]``:
  - ``Episode_Reward/<term>``: per-episode sum of the weighted term (dt included, before any clipping of the
    total) divided by the maximum episode length in seconds, averaged over the envs that ended this step
    (Isaac Lab's convention; present only on steps where some env ended);
  - ``Episode_Termination/<reason>``: fraction of the envs ended this step that ended for ``<reason>``
    (a fall reason of the task, or ``time_out``); several fall reasons can hold at once;
  - ``Metrics/<name>`` from the task (e.g. velocity tracking errors), averaged over envs;
  - ``Perf/physics_ms`` (``backend.step`` and ``backend.reset``) and ``Perf/task_ms`` (everything else in
    ``step``), wall ms: always on the CPU; on a GPU only with ``profile_steps`` (timing a step there needs two
    device synchronizations, which stall the queue of kernels);
  - ``Metrics/nonfinite_envs``: envs whose actions, physics state, reward or observations were not finite
    this step. They are terminated (reward 0) and restarted, so NaN never reaches the learner.
Logged values stay tensors on the env's device (rsl_rl's logger averages them once per iteration), so logging
adds no host synchronization; what remains per step are the index sets of envs to restart (``nonzero``, as in
Isaac Lab and mjlab) and the finite-observation check.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import math
import time
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from fpo_locomotion.envs.backend import Backend, BackendConfig


class TaskStep(NamedTuple):
    """What a task says about one control step of N envs (T reward terms, R fall reasons)."""

    reward: torch.Tensor             # [N] float
    reward_terms: torch.Tensor       # [T, N] weighted terms, rows as ``task.reward_names`` (their sum, maybe
                                     # clipped, is ``reward``)
    terminations: torch.Tensor       # [R, N] bool, rows as ``task.termination_names``
    metrics: dict[str, torch.Tensor]  # name -> 0-dim tensor


class LocomotionTask(Protocol):
    """What ``LocomotionVecEnv`` needs from a task (tensors on the backend's device)."""

    cfg: Any
    action_scale: float
    episode_length_s: float
    gait_period: float | None
    """Period (s) of the gait clock in the observation, or None."""
    reward_names: list[str]
    termination_names: list[str]
    """Fall reasons (the time-out is the env's)."""

    def evaluate(self, actions: torch.Tensor, episode_length: torch.Tensor) -> TaskStep:
        """Rewards, terminations and metrics after the physics of ``actions`` [N, J] at ``episode_length`` [N]."""

    def initial_state(self, env_ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Start state of new episodes in envs ``env_ids`` [M] (int64), the arguments of ``Backend.reset`` after
        ``env_ids``: root_pos [M, 3], root_quat [M, 4], root_lin_vel_w [M, 3], root_ang_vel_w [M, 3],
        joint_pos [M, J], joint_vel [M, J]."""

    def reset(self, env_ids: torch.Tensor) -> None:
        """Reset the task's own buffers of envs ``env_ids`` [M] (after the backend reset them)."""

    def post_step(self, episode_length: torch.Tensor) -> None:
        """Commands and events (pushes) at the start of episode step ``episode_length`` [N]."""

    def observations(self, episode_length: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"policy": [N, P], "critic": [N, C]} at ``episode_length`` [N]."""

    def observation_terms(self) -> list[dict]:
        """Policy observation layout: ordered {"name", "size" (all frames), "history_length", "scale" (of one frame:
        float or list of floats), "unit", "definition", "training_noise"}."""

    def command_names(self) -> list[str]: ...

    def command_ranges(self) -> list[list[float]]: ...

    def commands_contract(self) -> dict:
        """{"frame", "ranges", "dead_band", "standing", ...}: what a command means, in words and numbers."""

    def gait_clock(self) -> dict | None:
        """{"period_s", "leg_offsets", "phase", "starts", ...} of the gait clock the policy observes, or None."""


class LocomotionVecEnv(VecEnv):
    """N envs of ``task`` on ``backend``; observation groups "policy" and "critic", rsl_rl auto-reset."""

    def __init__(self, backend: Backend, physics: BackendConfig, task: LocomotionTask, profile_steps: bool = False):
        self.backend, self.physics, self.task = backend, physics, task
        self.cfg = task.cfg
        self.num_envs = backend.num_envs
        self.num_actions = len(backend.spec.joint_names)
        self.device = backend.device
        self.max_episode_length = math.ceil(task.episode_length_s / backend.control_dt)
        self.max_episode_length_s = task.episode_length_s
        self.episode_length_buf = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        self._default_joint_pos = torch.tensor(backend.spec.default_joint_pos, device=self.device)
        self._episode_sums = torch.zeros(len(task.reward_names), self.num_envs, device=self.device)  # [T, N]
        self._timed = self.device.type == "cpu" or profile_steps
        """Log ``Perf/*`` per step: free on the CPU, two synchronizations per step on a GPU."""
        self._sync = torch.cuda.synchronize if self.device.type == "cuda" and profile_steps else (lambda: None)
        self._reset(torch.arange(self.num_envs, device=self.device))
        task.post_step(self.episode_length_buf)

    def get_observations(self) -> TensorDict:
        """Observation groups of the current state: "policy" [N, P], "critic" [N, C]."""
        return TensorDict(self.task.observations(self.episode_length_buf), batch_size=[self.num_envs],
                          device=self.device)

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        """Apply ``actions`` [N, J] for one control step; returns (obs, rewards [N], dones [N] long, extras).

        On the CPU the step's torch work runs on one thread: its tensors ([N, <70]) are too small to gain from
        more, and torch's OpenMP workers, which spin for a while after each parallel op, took the cores from the
        physics threads (README Benchmarks, "Environment").
        """
        if self.device.type != "cpu":
            return self._step(actions)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._step(actions)
        finally:
            torch.set_num_threads(threads)

    def _step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        start = time.perf_counter()
        actions = actions.to(self.device)
        bad_actions = ~torch.isfinite(actions).all(dim=1)
        actions = torch.where(bad_actions[:, None], torch.zeros_like(actions), actions)
        self.backend.step(self._default_joint_pos + self.task.action_scale * actions)
        self._sync()
        physics_end = time.perf_counter()

        self.episode_length_buf += 1
        out = self.task.evaluate(actions, self.episode_length_buf)
        nonfinite = bad_actions | ~torch.isfinite(out.reward) | ~self._state_finite()
        reward = torch.where(nonfinite, torch.zeros_like(out.reward), out.reward)
        time_outs = (self.episode_length_buf >= self.max_episode_length) & ~nonfinite
        dones = out.terminations.any(dim=0) | time_outs | nonfinite
        self._episode_sums += torch.nan_to_num(out.reward_terms, nan=0.0, posinf=0.0, neginf=0.0)

        log: dict[str, Any] = {f"Metrics/{k}": v for k, v in out.metrics.items()}
        done_ids = dones.nonzero().squeeze(1)
        reset_s = 0.0
        if done_ids.numel() > 0:
            log.update(self._episode_log(done_ids, out, time_outs))
            reset_s = self._reset(done_ids)
        self.task.post_step(self.episode_length_buf)
        obs = self.get_observations()
        bad_obs = ~torch.stack([torch.isfinite(v).all(dim=1) for v in obs.values()]).all(dim=0)
        if bad_obs.any():  # a task term produced NaN: restart those envs and observe them again
            bad_ids = bad_obs.nonzero().squeeze(1)
            reset_s += self._reset(bad_ids)
            dones[bad_ids], reward[bad_ids], nonfinite[bad_ids] = True, 0.0, True
            obs = self.get_observations()
        log["Metrics/nonfinite_envs"] = nonfinite.sum(dtype=torch.float32)
        if self._timed:
            self._sync()
            end = time.perf_counter()
            log["Perf/physics_ms"] = 1e3 * (physics_end - start + reset_s)
            log["Perf/task_ms"] = 1e3 * (end - physics_end - reset_s)
        extras = {"time_outs": time_outs.float(), "log": log}
        return obs, reward, dones.long(), extras

    def _state_finite(self) -> torch.Tensor:
        """[N] bool: the backend's root and joint state of each env is finite."""
        b = self.backend
        state = torch.cat([b.root_pos, b.root_quat, b.root_lin_vel_w, b.root_ang_vel_w, b.joint_pos, b.joint_vel], dim=1)
        return torch.isfinite(state).all(dim=1)

    def _reset(self, env_ids: torch.Tensor) -> float:
        """New episodes in envs ``env_ids`` [M]; returns the seconds spent in ``backend.reset``."""
        state = self.task.initial_state(env_ids)
        start = time.perf_counter()
        self.backend.reset(env_ids, *state)
        self._sync()
        seconds = time.perf_counter() - start
        self.task.reset(env_ids)
        self.episode_length_buf[env_ids] = 0
        return seconds

    def _episode_log(self, env_ids: torch.Tensor, out: TaskStep, time_outs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Episode statistics of the envs ``env_ids`` [M] that end now; their reward sums restart at 0."""
        rewards = self._episode_sums[:, env_ids].mean(dim=1) / self.max_episode_length_s
        self._episode_sums[:, env_ids] = 0.0
        reasons = torch.cat([out.terminations[:, env_ids], time_outs[None, env_ids]]).float().mean(dim=1)
        log = {f"Episode_Reward/{name}": v for name, v in zip(self.task.reward_names, rewards.unbind())}
        log.update({f"Episode_Termination/{name}": v
                    for name, v in zip([*self.task.termination_names, "time_out"], reasons.unbind())})
        return log

    def deploy_metadata(self) -> dict:
        """What a robot-side program needs, with only the exported policy, to build observations and apply
        actions (JSON-serializable; joint lists in action order)."""
        spec, task = self.backend.spec, self.task
        return {
            "joint_names": list(spec.joint_names),
            "default_joint_pos": [float(x) for x in spec.default_joint_pos],
            "kp": [float(x) for x in spec.kp],
            "kd": [float(x) for x in spec.kd],
            "effort_limit": [float(x) for x in spec.effort_limit],
            "action_scale": float(task.action_scale),
            "control_dt": float(self.backend.control_dt),
            "physics_dt": float(self.physics.physics_dt),
            "decimation": int(self.physics.decimation),
            "observation_terms": task.observation_terms(),
            "command_names": task.command_names(),
            "command_ranges": task.command_ranges(),
            "gait_period": None if task.gait_period is None else float(task.gait_period),
            "gait_clock": task.gait_clock(),
            "commands": task.commands_contract(),
            "control_law": {
                "joint_target": "q_target = default_joint_pos + action_scale * action (per joint, joint_names order; "
                                "the action is not clipped)",
                "pd": "tau = kp * (q_target - q) - kd * dq, clipped to [-effort_limit, effort_limit], recomputed at "
                      "every physics step from the target held over the control step",
                "physics_dt": float(self.physics.physics_dt),
                "decimation": int(self.physics.decimation),
                "integrator": _integrator(self.backend.spec.model_path),
            },
            "model": _model_resource(self.backend.spec.model_path),
            "model_origin": "fpo-locomotion's own MJCF, fpo_locomotion/resources/<model> (not a vendor file of the "
                            "same name); model_sha256 identifies the exact file",
            "model_sha256": hashlib.sha256(Path(self.backend.spec.model_path).read_bytes()).hexdigest(),
        }


def _integrator(model_path: str) -> str:
    """MuJoCo's integrator of the MJCF (e.g. "implicitfast")."""
    import mujoco

    model = mujoco.MjModel.from_xml_path(str(model_path))
    return mujoco.mjtIntegrator(model.opt.integrator).name.removeprefix("mjINT_").lower()


def _model_resource(model_path: str) -> str:
    """``model_path`` relative to ``fpo_locomotion/resources`` (posix), or as given if it lies elsewhere."""
    root = Path(str(importlib.resources.files("fpo_locomotion.resources"))).resolve()
    try:
        return Path(model_path).resolve().relative_to(root).as_posix()
    except ValueError:
        return str(model_path)
