"""The flow velocity network v(x_t, t, obs), the Euler sampler and the conditional flow-matching loss.

Convention: t = 0 is noise, t = 1 is the action; ``x_t = (1 - t) * eps + t * a``; target velocity ``a - eps``.

Shapes: B batch, N Monte-Carlo (tau, eps) pairs per action, O observation dim, A action dim, H hidden.
"""

from __future__ import annotations

import math

import torch
from rsl_rl.utils import resolve_nn_activation
from torch import nn


def sinusoidal_time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Embed flow times ``t`` [...] in [0, 1] as [..., dim] sines and cosines of geometric frequencies 1..1000."""
    freqs = torch.exp(torch.linspace(0.0, math.log(1000.0), dim // 2, device=t.device, dtype=t.dtype))
    angles = t.unsqueeze(-1) * freqs
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


class VelocityNet(nn.Module):
    """MLP on [obs, time embedding, x_t] with the first layer split in two parts.

    ``W [obs; emb; x] = W_obs obs + W_tx [emb; x]``: the observation part is computed once per observation
    and broadcast over the K Euler steps and the N Monte-Carlo samples instead of being recomputed for
    each of them. The function is the same as a plain MLP on the concatenated input.
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden_dims: list[int], activation: str, time_embed_dim: int):
        super().__init__()
        self.action_dim = action_dim
        self.time_embed_dim = time_embed_dim
        self.obs_layer = nn.Linear(obs_dim, hidden_dims[0])
        self.tx_layer = nn.Linear(time_embed_dim + action_dim, hidden_dims[0], bias=False)
        layers: list[nn.Module] = [resolve_nn_activation(activation)]
        for d_in, d_out in zip(hidden_dims[:-1], hidden_dims[1:]):
            layers += [nn.Linear(d_in, d_out), resolve_nn_activation(activation)]
        output = nn.Linear(hidden_dims[-1], action_dim)
        # Zero output layer: the untrained flow is the identity map, so the first policy is exactly N(0, I)
        # (like a Gaussian actor with std 1), symmetric and unbiased. A random output layer shifts and skews
        # the first samples towards one region, and on multimodal rewards that region's mode wins.
        nn.init.zeros_(output.weight)
        nn.init.zeros_(output.bias)
        self.trunk = nn.Sequential(*layers, output)

    def project_obs(self, obs: torch.Tensor) -> torch.Tensor:
        """First-layer contribution of the (normalized) observation: [..., O] -> [..., H]."""
        return self.obs_layer(obs)

    def velocity(self, obs_proj: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Velocity [..., A] from ``obs_proj`` [..., H] (see ``project_obs``), ``x_t`` [..., A], ``t`` [...]."""
        tx = torch.cat([sinusoidal_time_embedding(t, self.time_embed_dim), x_t], dim=-1)
        return self.trunk(obs_proj + self.tx_layer(tx))

    def forward(self, obs: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Velocity [B, A] for ``obs`` [B, O], ``x_t`` [B, A], ``t`` [B]."""
        return self.velocity(self.project_obs(obs), x_t, t)


def euler_sample(net: VelocityNet, obs: torch.Tensor, x0: torch.Tensor, steps: int,
                 path: list[torch.Tensor] | None = None) -> torch.Tensor:
    """Integrate dx/dt = v(x, t, obs) from ``x0`` [B, A] at t=0 to t=1 in ``steps`` Euler steps -> action [B, A].

    ``path``, when given, receives every state x_0 .. x_K [B, A] (pictures of the flow, :func:`euler_path`).
    """
    obs_proj = net.project_obs(obs)
    x = x0
    dt = 1.0 / steps
    for k in range(steps):
        if path is not None:
            path.append(x)
        t = torch.full(x.shape[:-1], k * dt, device=x.device, dtype=x.dtype)
        x = x + dt * net.velocity(obs_proj, x, t)
    if path is not None:
        path.append(x)
    return x


def euler_path(net: VelocityNet, obs: torch.Tensor, x0: torch.Tensor, steps: int) -> torch.Tensor:
    """States [K+1, B, A] of :func:`euler_sample` from ``x0`` [B, A]: the same integrator, every step kept.

    ``net`` is a :class:`VelocityNet` or any object with its ``project_obs`` and ``velocity``.
    """
    path: list[torch.Tensor] = []
    euler_sample(net, obs, x0, steps, path)
    return torch.stack(path)


def cfm_loss(net: VelocityNet, obs: torch.Tensor, actions: torch.Tensor, eps: torch.Tensor,
             tau: torch.Tensor) -> torch.Tensor:
    """Per-sample CFM losses [B, N] of ``actions`` [B, A] given ``obs`` [B, O], noise ``eps`` [B, N, A], times ``tau`` [B, N].

    ``l_i = ||v(x_tau_i, tau_i, obs) - (a - eps_i)||^2 / sqrt(A)`` (the FPO++ scaling), all N samples in one forward.
    """
    obs_proj = net.project_obs(obs).unsqueeze(1)  # [B, 1, H], broadcast over the N samples
    a = actions.unsqueeze(1)
    x_t = (1.0 - tau.unsqueeze(-1)) * eps + tau.unsqueeze(-1) * a
    v = net.velocity(obs_proj, x_t, tau)
    return (v - (a - eps)).pow(2).sum(-1) / math.sqrt(actions.shape[-1])


def euler_sample_log_prob(net: VelocityNet, obs: torch.Tensor, x0: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`euler_sample`'s action [B, A] and its exact log-density [B] under the K-step Euler map.

    Change of variables: ``log pi(a) = log N(x_0; 0, I) - sum_k log|det(I + dt * dv/dx(x_k, t_k))|``, the
    Jacobian [B, A, A] by autograd (A backward passes per step). Runs inside ``torch.inference_mode`` too.
    """
    dt = 1.0 / steps
    log_prob = torch.distributions.Normal(0.0, 1.0).log_prob(x0).sum(-1)
    eye = torch.eye(x0.shape[-1], device=x0.device, dtype=x0.dtype)
    x = x0.clone()
    with torch.inference_mode(False), torch.enable_grad():
        obs_proj = net.project_obs(obs.clone()).detach()
        for k in range(steps):
            x = x.detach().clone().requires_grad_(True)
            t = torch.full(x.shape[:-1], k * dt, device=x.device, dtype=x.dtype)
            v = net.velocity(obs_proj, x, t)
            jac = torch.stack([torch.autograd.grad(v[:, i].sum(), x, retain_graph=True)[0]
                               for i in range(x.shape[-1])], dim=1)  # [B, A_out, A_in]
            log_prob = log_prob - torch.linalg.slogdet(eye + dt * jac).logabsdet.detach()
            x = x + dt * v
    return x.detach(), log_prob.detach()
