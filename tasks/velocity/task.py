"""``VelocityTask``: joystick velocity tracking of a legged robot (e.g. the Unitree G1's 12 leg joints) on flat
ground.

What to learn, written once in torch for every backend: commands (``commands.py``), observations
(``observations.py``), rewards (``rewards.py``), falls (``terminations.py``), episode resets, domain
randomization and pushes. ``LocomotionVecEnv`` (``fpo_locomotion.envs.vec_env``) drives it.

N envs, J joints, F feet; all randomness comes from one seeded ``torch.Generator`` (with MuJoCo's
deterministic physics: same seed and actions -> identical rollouts).
"""

from __future__ import annotations

import bisect
import functools
import math

import torch

from fpo_locomotion.envs.backend import Backend
from fpo_locomotion.envs.symmetry import SignedPermutation
from fpo_locomotion.envs.vec_env import TaskStep
from fpo_locomotion.errors import ConfigError
from fpo_locomotion.tasks.terms import EVENT_MODES, bind_terms, check_weight_steps, reward_weight
from fpo_locomotion.tasks.velocity.commands import COMMAND_NAMES, VelocityCommand
from fpo_locomotion.tasks.velocity.config import VelocityEnvConfig
from fpo_locomotion.tasks.velocity.events import EVENT_TERMS, EventContext
from fpo_locomotion.tasks.velocity.observations import Observations, ObsParams
from fpo_locomotion.tasks.velocity.rewards import REWARD_TERMS
from fpo_locomotion.tasks.velocity.state import LEG_OFFSETS, TermContext, VelocityState, leg_phase, projected_gravity
from fpo_locomotion.tasks.velocity.symmetry import joint_mirror, name_mirror, observation_mirror
from fpo_locomotion.tasks.velocity.terminations import TERMINATION_TERMS


class VelocityTask:
    """Task state and terms of N envs on ``backend`` (see :class:`~fpo_locomotion.envs.vec_env.LocomotionTask`)."""

    def __init__(self, cfg: VelocityEnvConfig, backend: Backend, seed: int = 0):
        self.cfg, self.backend = cfg, backend
        self.action_scale = cfg.action_scale
        self.episode_length_s = cfg.episode_length_s
        self.gait_period = cfg.gait_period
        self.control_dt = backend.control_dt
        self.device = device = backend.device
        self.generator = torch.Generator(device=device).manual_seed(seed)
        n, spec = backend.num_envs, backend.spec
        j = len(spec.joint_names)
        self.default_joint_pos = torch.tensor(spec.default_joint_pos, device=device)
        self.commands = VelocityCommand(cfg.commands, n, self.control_dt, self.generator, device)
        self.action = torch.zeros(n, j, device=device)
        self.last_action = torch.zeros(n, j, device=device)
        self.last_joint_vel = backend.joint_vel.clone()
        self.last_lin_vel_w = backend.root_lin_vel_w.clone()
        self.lin_acc_w = torch.zeros(n, 3, device=device)
        self.last_foot_pos = backend.foot_pos.clone()
        self.foot_air_time = torch.zeros(n, backend.foot_pos.shape[1], device=device)
        self.foot_contact_time = torch.zeros_like(self.foot_air_time)
        self.common_step = 0
        """Control steps taken by the env since it was built (or the run's iteration x steps per env on resume)."""
        self.level = 0.0
        """The disturbance level of the current step (``disturbance_level()``, set once per step)."""

        friction = torch.ones(n, device=device)
        added_mass = torch.zeros(n, device=device)
        self.context = TermContext(spec.joint_names, self.default_joint_pos, backend.joint_limits)
        check_weight_steps(cfg.rewards, "env.rewards")
        rewards = {name: entry for name, entry in cfg.rewards.items()
                   if entry.weight != 0.0 or any(w != 0.0 for _, w in entry.weight_steps)}
        self.reward_fns = bind_terms(rewards, REWARD_TERMS, "env.rewards")
        self.reward_names = list(self.reward_fns)
        self.reward_entries = list(rewards.values())
        self.weight_switches = sorted({at for entry in self.reward_entries for at, _ in entry.weight_steps})
        """Control steps at which a reward weight changes (``weight_steps``): the weights are rebuilt only when the
        number of them passed changes (also after a jump of ``common_step``, as on resume)."""
        self.switches_passed = 0
        self.reward_weights = self._reward_weights()  # [T, 1]
        self.termination_fns = bind_terms(cfg.terminations, TERMINATION_TERMS, "env.terminations")
        self.termination_names = list(self.termination_fns)
        self._check_terms(self.state(torch.zeros(n, dtype=torch.long, device=device)))
        self.obs_params = ObsParams(self.default_joint_pos, friction, added_mass)
        self.event_context = EventContext(backend, self.generator, self.obs_params)
        self.event_fns = bind_terms(cfg.events, EVENT_TERMS, "env.events")
        self.interval_steps = self._check_events()
        """Control steps between two events of an env, per "interval" event."""
        self.obs = Observations(cfg.observations, self.state(torch.zeros(n, dtype=torch.long, device=device)),
                                self.obs_params, self.generator)

    def _reward_weights(self) -> torch.Tensor:
        """[T, 1]: each reward term's weight at the current ``common_step``, times the control dt."""
        weights = [[reward_weight(entry, self.common_step) * self.control_dt] for entry in self.reward_entries]
        return torch.tensor(weights, device=self.device)

    def _check_terms(self, s: VelocityState) -> None:
        """Evaluate every reward and termination term once on ``s``: a term of the wrong shape or with a bad
        parameter fails here, as a one-line ConfigError, before any training."""
        s.terminated = torch.zeros(self.backend.num_envs, dtype=torch.bool, device=self.device)
        for key, fns, entries in (("env.terminations", self.termination_fns, self.cfg.terminations),
                                  ("env.rewards", self.reward_fns, self.cfg.rewards)):
            for name, fn in fns.items():
                try:
                    value = fn(s, self.context)
                except ConfigError as e:
                    raise ConfigError(f"Config key '{key}.{name}': {e}") from None
                except TypeError as e:  # not a term(state, context, **params) function
                    raise ConfigError(f"Config key '{key}.{name}': {entries[name].func} cannot be called as "
                                      f"term(state, context, **params) ({e}).") from None
                if not isinstance(value, torch.Tensor) or value.shape != (self.backend.num_envs,):
                    shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                    raise ConfigError(f"Config key '{key}.{name}': {entries[name].func} returns {shape}; a term "
                                      f"returns one value per env, shape ({self.backend.num_envs},).")

    def _check_events(self) -> dict[str, int]:
        """Check each event's mode and interval and run it once on no env (its params' ranges); returns the control
        steps between two events of an env per "interval" event."""
        interval_steps = {}
        for name, entry in self.cfg.events.items():
            key = f"env.events.{name}"
            if entry.mode not in EVENT_MODES:
                raise ConfigError(f"Config key '{key}.mode': '{entry.mode}' is not one of {', '.join(EVENT_MODES)}.")
            if entry.mode == "interval":
                if entry.interval_s <= 0:
                    raise ConfigError(f"Config key '{key}.interval_s': an interval event needs interval_s > 0, "
                                      f"got {entry.interval_s}.")
                interval_steps[name] = max(1, round(entry.interval_s / self.control_dt))
            try:
                self.event_fns[name](self.event_context, torch.zeros(0, dtype=torch.long, device=self.device))
            except ConfigError as e:
                raise ConfigError(f"Config key '{key}.params': {e}") from None
            except TypeError as e:
                raise ConfigError(f"Config key '{key}': {entry.func} cannot be called as "
                                  f"event(event_context, env_ids, **params) ({e}).") from None
        return interval_steps

    # ------------------------------------------------------------------ randomness
    def _uniform(self, shape: tuple[int, ...], low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(shape, generator=self.generator, device=self.device)

    def disturbance_level(self) -> float:
        """0..1: how far the curriculum has grown the events' ranges and the noise (``disturbance_curriculum``)."""
        start, end = self.cfg.disturbance_curriculum
        if end <= start:
            return float(self.common_step >= start)
        return min(max((self.common_step - start) / (end - start), 0.0), 1.0)

    def _reset_events(self, env_ids: torch.Tensor) -> None:
        """The "reset" events (randomization) of envs ``env_ids`` [M] that start an episode, at the current level."""
        self.event_context.level = self.disturbance_level()
        for name, entry in self.cfg.events.items():
            if entry.mode == "reset":
                self.event_fns[name](self.event_context, env_ids)

    # ------------------------------------------------------------------ LocomotionTask
    def state(self, episode_length: torch.Tensor) -> VelocityState:
        """The task's view of the current backend state at episode step ``episode_length`` [N]."""
        b = self.backend
        return VelocityState(
            root_pos=b.root_pos, root_quat=b.root_quat, lin_vel_b=b.root_lin_vel_b, ang_vel_b=b.root_ang_vel_b,
            lin_acc_w=self.lin_acc_w, projected_gravity=projected_gravity(b.root_quat), joint_pos=b.joint_pos,
            joint_vel=b.joint_vel,
            last_joint_vel=self.last_joint_vel, joint_torque=b.joint_torque, action=self.action,
            last_action=self.last_action, command=self.commands.command, foot_pos=b.foot_pos,
            foot_vel=(b.foot_pos - self.last_foot_pos) / self.control_dt, foot_contact_force=b.foot_contact_force,
            foot_contact=self._foot_contact(), foot_air_time=self.foot_air_time,
            foot_contact_time=self.foot_contact_time, base_contact=b.base_contact,
            leg_phase=leg_phase(episode_length, self.control_dt, self.cfg.gait_period),
            standing=self.commands.command.square().sum(dim=1) < self.cfg.commands.standing_command**2,
            control_dt=self.control_dt)

    def _foot_contact(self) -> torch.Tensor:
        """[N, F] bool: net contact force of each foot above ``foot_contact_force``."""
        return self.backend.foot_contact_force.square().sum(dim=2) > self.cfg.foot_contact_force**2

    def evaluate(self, actions: torch.Tensor, episode_length: torch.Tensor) -> TaskStep:
        """Rewards [N], weighted terms, fall flags and tracking errors of the step just simulated.

        Persistent buffers are only ever updated in place, so the env may be stepped in and out of
        ``torch.inference_mode`` alike.
        """
        self.last_action.copy_(self.action)
        self.action.copy_(actions)
        self.lin_acc_w.copy_((self.backend.root_lin_vel_w - self.last_lin_vel_w) / self.control_dt)
        self.last_lin_vel_w.copy_(self.backend.root_lin_vel_w)
        s = self.state(episode_length)  # holds the foot timers by reference: updated in place below
        self.foot_air_time.copy_(torch.where(s.foot_contact, 0.0, self.foot_air_time + self.control_dt))
        self.foot_contact_time.copy_(torch.where(s.foot_contact, self.foot_contact_time + self.control_dt, 0.0))
        falls = torch.stack([fn(s, self.context) for fn in self.termination_fns.values()])  # [R, N]
        s.terminated = falls.any(dim=0)
        passed = bisect.bisect_right(self.weight_switches, self.common_step)
        if passed != self.switches_passed:
            self.switches_passed, self.reward_weights = passed, self._reward_weights()
        terms = torch.stack([fn(s, self.context) for fn in self.reward_fns.values()]) * self.reward_weights  # [T, N]
        reward = terms.sum(dim=0)
        if self.cfg.only_positive_rewards:
            reward = reward.clamp(min=0.0)
        metrics = {
            "lin_vel_error": torch.linalg.vector_norm(s.command[:, :2] - s.lin_vel_b[:, :2], dim=1).mean(),
            "ang_vel_error": (s.command[:, 2] - s.ang_vel_b[:, 2]).abs().mean(),
            "disturbance_level": torch.tensor(self.level),
        }
        self.last_joint_vel.copy_(s.joint_vel)
        self.last_foot_pos.copy_(s.foot_pos)
        return TaskStep(reward, terms, falls, metrics)

    def initial_state(self, env_ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Default pose scaled by U[joint_pos_scale], default height, random yaw and base velocities [M, ...]."""
        rc, spec = self.cfg.reset, self.backend.spec
        m, j = len(env_ids), len(spec.joint_names)
        yaw = self._uniform((m,), -math.pi, math.pi) if rc.random_yaw else torch.zeros(m, device=self.device)
        zeros = torch.zeros(m, device=self.device)
        quat = torch.stack([torch.cos(yaw / 2), zeros, zeros, torch.sin(yaw / 2)], dim=1)
        root_pos = torch.stack([zeros, zeros, zeros + spec.default_base_height], dim=1)
        root_vel = self._uniform((m, 6), -rc.root_vel, rc.root_vel)
        joint_pos = self.default_joint_pos * self._uniform((m, j), *rc.joint_pos_scale)
        return root_pos, quat, root_vel[:, :3], root_vel[:, 3:], joint_pos, torch.zeros(m, j, device=self.device)

    def reset(self, env_ids: torch.Tensor) -> None:
        """Zero the action history and foot timers of envs ``env_ids`` [M], redraw their physics randomization;
        their velocity references and observation history restart from the new state."""
        self._reset_events(env_ids)
        self.foot_air_time[env_ids] = 0.0
        self.foot_contact_time[env_ids] = 0.0
        self.action[env_ids] = 0.0
        self.last_action[env_ids] = 0.0
        self.last_joint_vel[env_ids] = self.backend.joint_vel[env_ids]
        self.last_lin_vel_w[env_ids] = self.backend.root_lin_vel_w[env_ids]
        self.lin_acc_w[env_ids] = 0.0
        self.last_foot_pos[env_ids] = self.backend.foot_pos[env_ids]
        self.obs.fresh[env_ids] = True

    def post_step(self, episode_length: torch.Tensor) -> None:
        """Command resampling / heading control, then the interval events (pushes) of the envs that are due, once
        the disturbance level is above 0."""
        self.common_step += 1
        self.level = self.obs.noise_level = self.disturbance_level()
        self.commands.update(episode_length, self.backend.root_quat)
        if self.level > 0:
            self.event_context.level = self.level
            for name, steps in self.interval_steps.items():
                env_ids = ((episode_length % steps == 0) & (episode_length > 0)).nonzero().squeeze(1)
                if env_ids.numel() > 0:
                    self.event_fns[name](self.event_context, env_ids)

    def observations(self, episode_length: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.obs.compute(self.state(episode_length), self.obs_params, self.common_step)

    def observation_terms(self) -> list[dict]:
        return [dict(entry) for entry in self.obs.layout]

    @functools.cached_property
    def mirror(self) -> dict[str, SignedPermutation]:
        """Left-right mirrors of the "policy" [H * P], "critic" [P + C] (and "estimated" [E]) observations and of the
        "actions" [J] (``tasks/velocity/symmetry.py``); a ConfigError names a term without one."""
        spec = self.backend.spec
        joints = joint_mirror(spec.joint_names, self.default_joint_pos)
        feet = name_mirror(spec.foot_body_names)
        policy_terms, privileged_terms = self.obs.terms["policy"], self.obs.terms["privileged"]
        critic_scale = torch.cat([self.obs.policy_scale, self.obs.privileged_scale])
        mirrors = {
            "policy": observation_mirror(policy_terms, joints, feet, self.obs.policy_group_scale, "policy",
                                         self.obs.history_length),
            "critic": observation_mirror(policy_terms + privileged_terms, joints, feet, critic_scale, "critic"),
            "actions": SignedPermutation.concat([joints], self.device),
        }
        if self.obs.terms["estimated"]:
            mirrors["estimated"] = observation_mirror(self.obs.terms["estimated"], joints, feet, self.obs.estimated_scale,
                                                      "estimated")
        return mirrors

    def command_names(self) -> list[str]:
        return list(COMMAND_NAMES)

    def commands_contract(self) -> dict:
        """What the command means and how training drew it (export metadata)."""
        c = self.cfg.commands
        return {
            "frame": "pelvis (base) frame: vx forward, vy left (m/s); yaw rate counter-clockwise about the pelvis "
                     "z axis (rad/s); tracked against the pelvis velocity in the same frame",
            "ranges": self.command_ranges(),
            "dead_band": f"training drew |(vx, vy)| <= {c.min_lin_vel} m/s as (vx, vy) = (0, 0)"
                         + (f"; it zeroed each of vx, vy, yaw rate on its own with chance {c.rel_zero_axis}"
                            if c.rel_zero_axis else ""),
            "standing": f"(0, 0, 0) means stand; {c.rel_standing_envs:.0%} of training draws were standing commands"
                        + (" (more came from zeroed axes)" if c.rel_zero_axis else "")
                        + f"; under |command| < {c.standing_command} the gait clock's stepping is not rewarded",
            "resampled_every_s": float(c.resampling_time_s),
        }

    def gait_clock(self) -> dict:
        """The gait clock behind the ``gait_phase`` observation (export metadata)."""
        stance = [e.params["stance_fraction"] for e in self.cfg.rewards.values()
                  if e.func == "contact" and e.weight != 0.0 and "stance_fraction" in e.params]
        return {
            "period_s": float(self.cfg.gait_period),
            "leg_offsets": list(LEG_OFFSETS),
            "legs": ["left", "right"],
            "phase": "phi_leg = ((t / period_s) + offset) mod 1, t = control steps since the episode start x control_dt",
            "starts": "t = 0 on the first control step of an episode (the policy's first step on the robot) and "
                      "never restarts within one",
            **({"stance": f"a leg is meant to be in stance for phi < {stance[0]} (training reward)"} if stance else {}),
        }

    def command_ranges(self) -> list[list[float]]:
        return self.commands.ranges()
