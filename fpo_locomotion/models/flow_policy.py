"""Standalone policies built from a :class:`FlowActor`'s weights (copies, normalizer baked in), for evaluation and export.

- :class:`FlowPolicyModule`: the actor's own K-step sampler, the reference the exported graphs are checked against.
- :class:`UnrolledFlowPolicy`: the same function with per-step constants folded in; the graph ``fpo-loco export``
  ships (``policy.onnx``, ``policy_stochastic.onnx``, ``policy.pt``) and what ``FlowActor.as_onnx`` / ``as_jit`` return.
- :class:`DenoiserModule`: the velocity net alone (``denoiser.onnx``), for robot-side samplers with their own K.

Each carries the actor's estimator where it has one (the velocity net's input is then the observation and its
estimate, :class:`FlowInput`): the robot feeds the observation only.

Shapes: B batch, O observation dim, E estimated dim, A action dim, H hidden, K Euler steps.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
from torch import nn

from fpo_locomotion.models.velocity_net import euler_sample, sinusoidal_time_embedding

if TYPE_CHECKING:
    from fpo_locomotion.models.flow_actor import FlowActor


class FlowInput(nn.Module):
    """The velocity net's observation input: ``forward(obs [B, O]) -> [B, O + E]``, the normalized observation, then
    the estimator's output on it (detached: no policy gradient reaches the estimator); [B, O] without an estimator."""

    def __init__(self, obs_normalizer: nn.Module, estimator: nn.Module | None) -> None:
        super().__init__()
        self.obs_normalizer = obs_normalizer
        self.estimator = estimator

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.with_estimate(obs)[0]

    def with_estimate(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(the input [B, O + E], the estimate [B, E] with its gradients, None without an estimator): one
        estimator pass serves the flow's input and FPO's regression loss."""
        normalized = self.obs_normalizer(obs)
        if self.estimator is None:
            return normalized, None
        estimate = self.estimator(normalized)
        return torch.cat([normalized, estimate.detach()], dim=-1), estimate


def _flow_input_copy(actor: FlowActor) -> FlowInput:
    return FlowInput(copy.deepcopy(actor.obs_normalizer), copy.deepcopy(actor.estimator))


class FlowPolicyModule(nn.Module):
    """The actor's own K-step sampler (normalizer baked in): ``forward(obs [B, O], noise [B, A] = 0) -> actions [B, A]``."""

    def __init__(self, actor: FlowActor, flow_steps: int) -> None:
        super().__init__()
        self.flow_input = _flow_input_copy(actor)
        self.net = copy.deepcopy(actor.net)
        self.flow_steps = flow_steps
        self.action_dim = actor.action_dim

    def forward(self, obs: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        x0 = obs.new_zeros(obs.shape[0], self.action_dim) if noise is None else noise
        return euler_sample(self.net, self.flow_input(obs), x0, self.flow_steps)


class UnrolledFlowPolicy(nn.Module):
    """K Euler steps of the velocity net: ``forward(obs [B, O], noise [B, A] | None) -> actions [B, A]``.

    ``x_0 = noise``, or 0 (zero-sampling) without it; unrolled in the ONNX graph, a loop in TorchScript.
    Carries rsl_rl's export contract (``input_names``, ``output_names``, ``get_dummy_inputs``, ``reset``), so the
    stock ``OnPolicyRunner.export_policy_to_onnx`` / ``_to_jit`` write this graph too.

    Same function as :class:`FlowPolicyModule`: with ``H0 = act(W_obs obs' + b_obs + W_t emb(t_k) + W_x x)`` and
    the trunk after it, ``x <- x + dt * (W_out h + b_out)``. Per step, ``W_t emb(t_k)`` is the constant row
    ``step_bias[k]`` [H] and ``dt`` is folded into ``W_out``, ``b_out`` (same function, reassociated float sums).
    """

    input_names = ["obs"]
    output_names = ["actions"]

    def __init__(self, actor: FlowActor, flow_steps: int) -> None:
        super().__init__()
        net = actor.net
        emb_dim, dt = net.time_embed_dim, 1.0 / flow_steps
        self.flow_steps, self.obs_dim, self.action_dim = flow_steps, actor.obs_dim, actor.action_dim
        self.flow_input = _flow_input_copy(actor)
        self.obs_layer = copy.deepcopy(net.obs_layer)
        w_tx = net.tx_layer.weight.detach()  # [H, E + A], input order [emb; x]
        t = torch.tensor([k * dt for k in range(flow_steps)], dtype=w_tx.dtype, device=w_tx.device)
        self.register_buffer("step_bias", sinusoidal_time_embedding(t, emb_dim) @ w_tx[:, :emb_dim].T)  # [K, H]
        self.register_buffer("w_x", w_tx[:, emb_dim:].T.contiguous())  # [A, H]
        *hidden, out = copy.deepcopy(net.trunk)
        self.hidden = nn.Sequential(*hidden)  # activation, (Linear, activation) x (layers - 1)
        self.register_buffer("w_out", (dt * out.weight.detach()).T.contiguous())  # [H_last, A]
        self.register_buffer("b_out", dt * out.bias.detach())  # [A]

    def forward(self, obs: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        obs_proj = self.obs_layer(self.flow_input(obs))  # [B, H], once for all steps
        x = obs.new_zeros(obs.shape[0], self.action_dim) if noise is None else noise
        for k in range(self.flow_steps):
            h = self.hidden(torch.addmm(obs_proj + self.step_bias[k], x, self.w_x))
            x = x + torch.addmm(self.b_out, h, self.w_out)
        return x

    def get_dummy_inputs(self) -> tuple[torch.Tensor]:
        """One zero observation [1, O] (rsl_rl's ONNX export traces with it)."""
        return (torch.zeros(1, self.obs_dim),)

    @torch.jit.export
    def reset(self) -> None:
        """No recurrent state (legged_gym deploy scripts call it)."""


class DenoiserModule(nn.Module):
    """The velocity net with normalization (and the estimator) baked in: ``forward(obs [B, O], x_t [B, A], t [B]) ->
    velocity [B, A]``."""

    def __init__(self, actor: FlowActor) -> None:
        super().__init__()
        self.flow_input = _flow_input_copy(actor)
        self.net = copy.deepcopy(actor.net)

    def forward(self, obs: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(self.flow_input(obs), x_t, t)
