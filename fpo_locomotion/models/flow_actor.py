"""Flow-matching actor that meets rsl_rl's actor contract, so the stock ``OnPolicyRunner`` drives it.

Acting (``stochastic_output=True``): integrate the velocity net from ``x_0 ~ N(0, I)`` with K Euler steps,
optionally perturb the action, then draw N Monte-Carlo pairs (tau, eps) and their CFM losses under the
current weights. Those three tensors are the actor's ``output_distribution_params``: rsl_rl's
``RolloutStorage`` keeps them per transition and FPO reuses them in every epoch of the update.
Deterministic output (evaluation, export) is zero-sampling: ``x_0 = 0``.

Optional estimator (``estimator_hidden_dims``): an MLP estimates the env's ``estimated`` group (e.g. the base
velocity, which a robot does not sense) from the normalized observation; the velocity net sees the observation and
the estimate (no policy gradient reaches the estimator; FPO trains it by regression on the true values).

Shapes: B batch, N = num_mc, A action dim, O observation dim, E estimated dim.
"""

from __future__ import annotations

import torch
from rsl_rl.modules import MLP, EmpiricalNormalization
from tensordict import TensorDict
from torch import nn

from fpo_locomotion.errors import ConfigError
from fpo_locomotion.models.flow_policy import FlowInput, UnrolledFlowPolicy
from fpo_locomotion.models.velocity_net import VelocityNet, cfm_loss, euler_path, euler_sample, euler_sample_log_prob

ESTIMATED_GROUP = "estimated"
"""The env's observation group of the true values the estimator learns (``env.observations.estimated``)."""


class FlowActor(nn.Module):
    """Flow policy a = EulerSample(v_theta(., ., obs)) with observation normalization."""

    is_recurrent: bool = False

    def __init__(
        self,
        obs: TensorDict,
        obs_groups: dict[str, list[str]],
        obs_set: str,
        output_dim: int,
        hidden_dims: tuple[int, ...] | list[int] = (256, 256, 256),
        activation: str = "elu",
        obs_normalization: bool = True,
        flow_steps: int = 10,
        num_mc: int = 8,
        time_embed_dim: int = 16,
        action_perturb_std: float = 0.0,
        estimator_hidden_dims: tuple[int, ...] | list[int] = (),
    ) -> None:
        """Build the actor.

        Args:
            obs: one observation TensorDict from the env (sizes the input).
            obs_groups, obs_set: rsl_rl's observation set resolution (``obs_groups[obs_set]`` are concatenated).
            output_dim: action dim A.
            flow_steps: K Euler steps from noise to action.
            num_mc: N Monte-Carlo (tau, eps) pairs per action for the FPO ratio.
            action_perturb_std: std of Gaussian noise added to sampled actions at rollout time (exploration).
            estimator_hidden_dims: hidden layers of the estimator of ``obs["estimated"]`` (empty: none).
        """
        super().__init__()
        self.obs_groups = list(obs_groups[obs_set])
        for group in self.obs_groups:
            if obs[group].dim() != 2:
                raise ValueError(f"FlowActor needs 1-D observation groups, got {tuple(obs[group].shape)} for '{group}': "
                                 "flatten it in the env or leave it out of train.runner.obs_groups['actor'].")
        self.obs_dim = sum(obs[g].shape[-1] for g in self.obs_groups)
        self.action_dim = output_dim
        self.flow_steps = flow_steps
        self.num_mc = num_mc
        self.action_perturb_std = action_perturb_std
        self.obs_normalization = obs_normalization
        self.obs_normalizer = EmpiricalNormalization(self.obs_dim) if obs_normalization else nn.Identity()
        self.estimator: nn.Module | None = None
        estimated_dim = 0
        if estimator_hidden_dims:
            if ESTIMATED_GROUP not in obs.keys():
                raise ConfigError("flow_actor.estimator_hidden_dims needs the env's 'estimated' observation group: list "
                                 "the terms to estimate under env.observations.estimated, or set the dims to [].")
            estimated_dim = obs[ESTIMATED_GROUP].shape[-1]
            self.estimator = MLP(self.obs_dim, estimated_dim, list(estimator_hidden_dims), activation)
        self.net = VelocityNet(self.obs_dim + estimated_dim, output_dim, list(hidden_dims), activation, time_embed_dim)
        self._euler_sample, self._cfm_loss = euler_sample, cfm_loss  # torch.compile'd by :meth:`compile_flow`
        self._params: tuple[torch.Tensor, ...] = ()
        self._last_actions = torch.zeros(1, output_dim)
        self.track_log_prob = False
        """Set by FPO's prior-KL bonus: stochastic actions also get their exact log-density, ``last_log_prob`` [B]."""
        self.last_log_prob = torch.zeros(1)

    # ------------------------------------------------------------------ flow policy
    def get_latent(self, obs: TensorDict, masks=None, hidden_state=None) -> torch.Tensor:
        """The velocity net's observation input [B, O + E]: the normalized actor observation and the estimate."""
        return self.latent_and_estimate(obs)[0]

    def latent_and_estimate(self, obs: TensorDict, flow_estimator: nn.Module | None = None,
                            ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(:meth:`get_latent` [B, O + E], with ``flow_estimator``'s estimate where given; the estimate [B, E] of
        ``obs["estimated"]`` with gradients for FPO's regression loss, None without an estimator)."""
        x = torch.cat([obs[g] for g in self.obs_groups], dim=-1)
        latent, estimate = FlowInput(self.obs_normalizer, self.estimator).with_estimate(x)
        if flow_estimator is not None:
            latent = FlowInput(self.obs_normalizer, flow_estimator)(x)
        return latent, estimate

    def sample(self, latent: torch.Tensor, x0: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Action [B, A] from normalized observation ``latent`` [B, O] and initial noise ``x0`` [B, A]."""
        return self._euler_sample(self.net, latent, x0, steps or self.flow_steps)

    def sample_trajectory(self, latent: torch.Tensor, x0: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """The sampler's states [K+1, B, A] from ``x0`` [B, A]; the last one is :meth:`sample`'s action."""
        return euler_path(self.net, latent, x0, steps or self.flow_steps)

    def cfm_loss(self, latent: torch.Tensor, actions: torch.Tensor, eps: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        """CFM losses [B, N] under the current weights (see ``velocity_net.cfm_loss``)."""
        return self._cfm_loss(self.net, latent, actions, eps, tau)

    def compile_flow(self, mode: str) -> None:
        """``torch.compile`` the sampler and the CFM loss, training's hot paths (``train.runner.torch_compile_mode``);
        the weights, the state dict and the exports (:meth:`as_jit`, :meth:`as_onnx`) are unchanged."""
        self._euler_sample = torch.compile(euler_sample, mode=mode)
        self._cfm_loss = torch.compile(cfm_loss, mode=mode)

    def forward(self, obs: TensorDict, masks=None, hidden_state=None, stochastic_output: bool = False) -> torch.Tensor:
        """Action [B, A]: a stochastic sample (and fresh Monte-Carlo pairs) or the zero-sampling output."""
        latent = self.get_latent(obs)
        batch = latent.shape[0]
        if not stochastic_output:
            return self.sample(latent, latent.new_zeros(batch, self.action_dim))
        x0 = torch.randn(batch, self.action_dim, device=latent.device)
        if self.track_log_prob:
            actions, self.last_log_prob = euler_sample_log_prob(self.net, latent, x0, self.flow_steps)
        else:
            actions = self.sample(latent, x0)
        if self.action_perturb_std > 0:
            actions = actions + self.action_perturb_std * torch.randn_like(actions)
        eps = torch.randn(batch, self.num_mc, self.action_dim, device=latent.device)
        tau = torch.rand(batch, self.num_mc, device=latent.device)
        self._params = (eps, tau, self.cfm_loss(latent, actions, eps, tau))
        self._last_actions = actions
        return actions

    # ------------------------------------------------------------------ rsl_rl actor contract
    @property
    def output_distribution_params(self) -> tuple[torch.Tensor, ...]:
        """(eps [B, N, A], tau [B, N], CFM loss under the acting weights [B, N]) of the last stochastic forward."""
        return self._params

    @property
    def output_std(self) -> torch.Tensor:
        """Spread [A] of the last sampled batch of actions (a flow policy has no std parameter), for logging."""
        actions = self._last_actions
        return actions.std(dim=0) if actions.shape[0] > 1 else torch.zeros_like(actions[0])

    @property
    def output_entropy(self) -> torch.Tensor:
        """Zeros [B]: a flow policy has no closed-form entropy; FPO uses no entropy bonus."""
        return torch.zeros(self._params[1].shape[0], device=self._params[1].device)

    def get_output_log_prob(self, outputs: torch.Tensor) -> torch.Tensor:
        """Zeros [B]: FPO replaces log-likelihoods with CFM losses, stored in ``output_distribution_params``."""
        return outputs.new_zeros(outputs.shape[0])

    def get_kl_divergence(self, old_params, new_params) -> torch.Tensor:
        """Not defined for a flow policy; FPO uses a fixed learning rate schedule."""
        raise NotImplementedError("FlowActor has no closed-form KL; use schedule='fixed'.")

    def update_normalization(self, obs: TensorDict) -> None:
        """Update the running observation statistics from a batch of observations."""
        if self.obs_normalization:
            self.obs_normalizer.update(torch.cat([obs[g] for g in self.obs_groups], dim=-1))

    def reset(self, dones=None, hidden_state=None) -> None:
        """No recurrent state."""

    def get_hidden_state(self):
        """No recurrent state."""
        return None

    def detach_hidden_state(self, dones=None) -> None:
        """No recurrent state."""

    def as_jit(self) -> nn.Module:
        """TorchScript-ready policy, ``fpo-loco export``'s ``policy.pt``: obs [B, O] (, noise [B, A]) -> actions [B, A]."""
        return UnrolledFlowPolicy(self, self.flow_steps)

    def as_onnx(self, verbose: bool = False) -> nn.Module:
        """ONNX-ready zero-sampling policy, ``fpo-loco export``'s unrolled ``policy.onnx``: obs [B, O] -> actions [B, A]."""
        return UnrolledFlowPolicy(self, self.flow_steps)
