"""Flow Policy Optimization (FPO, arXiv 2507.21053) and its FPO++ variant (arXiv 2602.02481) on rsl_rl's PPO.

FPO replaces PPO's likelihood ratio by a ratio of conditional flow-matching (CFM) losses computed on
the same Monte-Carlo pairs (tau_i, eps_i) drawn at rollout time:

- ``ratio="mean"`` (vanilla FPO): ``r = exp(mean_i l_i(old) - mean_i l_i(theta))``, one ratio per action.
- ``ratio="per_sample"`` (FPO++): ``r_i = exp(l_i(old) - l_i(theta))``, each clipped, advantage shared.

and optimizes either PPO's clipped surrogate (``objective="ppo_clip"``) or FPO++'s ASPO
(``objective="aspo"``): PPO clip where A >= 0, the SPO penalty ``r*A - |A|/(2*clip)*(r-1)^2`` where A < 0.

Optional (``prior_kl_coef`` > 0): each reward less ``prior_kl_coef * (log pi(a) - log prior(a))``, pi the flow's
exact density, a KL penalty to a broad prior that helps keep equally good modes (README). The prior is
``prior(a) ~ prod_i exp(-|a_i / prior_std|^prior_power / 2)``: N(0, prior_std^2 I) at power 2, flat-topped above.

Optional (``symmetry_cfg``, rsl_rl's): mirrored copies of each mini-batch, their CFM pairs mirrored with them.

Optional (the actor's estimator, ``FlowActor.estimator``): its mean squared error to the env's ``estimated``
group is added to the loss (concurrent state estimation: the estimate the flow sees is learned beside the policy).
The flow's input in the update carries the estimate of the estimator that acted (as it was at the update's
start), so the ratio measures the flow's change alone while the estimator takes its regression steps.

Optional (``use_mixed_precision``, rsl_rl's): the update's actor and critic passes in bf16 autocast (the losses,
ratios and optimizer in float32); the rollout's old CFM losses stay float32.

Everything else (rollouts, GAE, value loss, normalizers, multi-GPU) is rsl_rl's PPO unchanged.
"""

from __future__ import annotations

import copy
import math
import warnings

import torch
from rsl_rl.algorithms import PPO
from rsl_rl.utils import compile_model
from torch import nn

from fpo_locomotion.errors import ConfigError
from fpo_locomotion.models.flow_actor import ESTIMATED_GROUP, FlowActor

RATIOS = ("mean", "per_sample")
OBJECTIVES = ("ppo_clip", "aspo")
UNSUPPORTED_PPO_OPTIONS = ("rnd_cfg", "entropy_coef", "desired_kl")
"""rsl_rl PPO options FPO does not implement (a flow has no closed-form entropy or KL): refused, not ignored."""


def fpo_log_ratio(loss_old: torch.Tensor, loss_new: torch.Tensor, ratio: str, loss_clamp: float,
                  log_ratio_clamp: float) -> torch.Tensor:
    """Log-ratio from CFM losses [B, N]: [B, 1] for ``ratio="mean"``, [B, N] for ``"per_sample"``.

    Losses are clamped at ``loss_clamp`` and the log-ratio to +-``log_ratio_clamp`` before any exp.
    """
    loss_old = loss_old.clamp(max=loss_clamp)
    loss_new = loss_new.clamp(max=loss_clamp)
    if ratio == "mean":
        log_ratio = loss_old.mean(-1, keepdim=True) - loss_new.mean(-1, keepdim=True)
    else:
        log_ratio = loss_old - loss_new
    return log_ratio.clamp(-log_ratio_clamp, log_ratio_clamp)


def generalized_normal_log_prob(x: torch.Tensor, std: float, power: float) -> torch.Tensor:
    """log of prod_i exp(-|x_i / std|^power / 2) / Z, normalized ([B, A] -> [B]); N(0, std^2 I) at power 2."""
    log_norm = math.log(2.0 * std) + math.log(2.0) / power + math.lgamma(1.0 + 1.0 / power)
    return (-0.5 * (x.abs() / std).pow(power) - log_norm).sum(-1)


def policy_objective(ratio: torch.Tensor, advantages: torch.Tensor, clip: float, objective: str) -> torch.Tensor:
    """Per-element objective to maximize, same shape as ``ratio`` [B, M]; ``advantages`` [B, 1] broadcast."""
    clipped = torch.min(advantages * ratio, advantages * ratio.clamp(1.0 - clip, 1.0 + clip))
    if objective == "ppo_clip":
        return clipped
    spo = advantages * ratio - advantages.abs() / (2.0 * clip) * (ratio - 1.0).pow(2)
    return torch.where(advantages >= 0, clipped, spo)


class FPO(PPO):
    """FPO/FPO++ update on rsl_rl's PPO machinery; the actor must be a :class:`FlowActor`."""

    actor: FlowActor

    def __init__(
        self,
        actor: FlowActor,
        critic: nn.Module,
        storage,
        ratio: str = "per_sample",
        objective: str = "aspo",
        clip_param: float = 0.05,
        cfm_loss_clamp: float = 20.0,
        log_ratio_clamp: float = 5.0,
        ema_decay: float | None = None,
        ema_start: int = 0,
        prior_kl_coef: float = 0.0,
        prior_std: float = 1.0,
        prior_power: float = 2.0,
        optimizer: str = "adamw",
        learning_rate: float = 3e-4,
        **ppo_kwargs,
    ) -> None:
        """See the module docstring; ``ema_decay`` (e.g. 0.95) keeps an EMA of the actor after ``ema_start`` updates."""
        if ratio not in RATIOS:
            raise ConfigError(f"Unknown FPO ratio '{ratio}'. Valid: {RATIOS}.")
        if objective not in OBJECTIVES:
            raise ConfigError(f"Unknown FPO objective '{objective}'. Valid: {OBJECTIVES}.")
        if not isinstance(actor, FlowActor):
            raise TypeError(f"FPO needs a FlowActor, got {type(actor).__name__}.")
        if prior_kl_coef < 0.0 or prior_std <= 0.0 or prior_power <= 0.0:
            raise ConfigError(f"FPO prior_kl_coef must be >= 0 and prior_std, prior_power > 0, got {prior_kl_coef}, "
                              f"{prior_std} and {prior_power}: set train.fpo.prior_kl_coef=0 (off) or a positive coef "
                              "with a positive train.fpo.prior_std and train.fpo.prior_power.")
        if prior_kl_coef > 0.0 and actor.action_perturb_std > 0.0:
            raise ConfigError("FPO prior_kl_coef needs the flow's own action density: set flow_actor.action_perturb_std=0.")
        if not 0.0 < clip_param < 1.0:
            raise ConfigError(f"FPO clip_param must be in (0, 1), got {clip_param}.")
        unsupported = sorted(k for k in UNSUPPORTED_PPO_OPTIONS if ppo_kwargs.get(k))
        if (ppo_kwargs.get("symmetry_cfg") or {}).get("use_mirror_loss"):
            unsupported.append("symmetry_cfg.use_mirror_loss")
        if ppo_kwargs.get("schedule", "fixed") != "fixed":
            unsupported.append(f"schedule='{ppo_kwargs['schedule']}'")
        if unsupported:
            raise ConfigError(f"FPO does not implement rsl_rl's {', '.join(unsupported)}; remove them from the algorithm "
                             "config (they work with rsl_rl's PPO).")
        ppo_kwargs.update(schedule="fixed", desired_kl=None, entropy_coef=0.0)
        super().__init__(actor, critic, storage, clip_param=clip_param, optimizer=optimizer,
                         learning_rate=learning_rate, **ppo_kwargs)
        self.ratio = ratio
        self.objective = objective
        self.cfm_loss_clamp = cfm_loss_clamp
        self.log_ratio_clamp = log_ratio_clamp
        self.ema_decay = ema_decay
        self.ema_start = ema_start
        self.prior_kl_coef = prior_kl_coef
        self.prior_std = prior_std
        self.prior_power = prior_power
        self._raw_actor.track_log_prob = prior_kl_coef > 0.0
        self.num_updates = 0
        self.ema_actor = copy.deepcopy(self._raw_actor).requires_grad_(False) if ema_decay else None
        if self.symmetry:
            self._check_one_mirror_per_sample()

    def compile(self, mode: str | None = None) -> None:
        """rsl_rl's ``torch_compile_mode``: the critic as rsl_rl compiles it; of the actor, the flow's sampler and CFM
        loss (the update calls the actor's methods, which compiling its ``forward`` would leave eager)."""
        self.critic = compile_model(self._raw_critic, mode)
        if mode is not None:
            self._raw_actor.compile_flow(mode)

    def process_env_step(self, obs, rewards: torch.Tensor, dones: torch.Tensor, extras: dict) -> None:
        """rsl_rl's step record, rewards [B] less ``prior_kl_coef * (log pi(a) - log prior(a))`` when set.

        The per-sample KL to a broad prior: its optimum ``pi ~ prior * exp(r / coef)`` gives equally good modes
        mass in proportion to the prior there (an entropy bonus alone has no normalizable optimum on unbounded
        actions); a flat-topped prior (``prior_power`` > 2) gives modes at different distances from 0 equal mass.
        """
        if self.prior_kl_coef > 0.0:
            log_prior = generalized_normal_log_prob(self.transition.actions, self.prior_std, self.prior_power)
            rewards = rewards - self.prior_kl_coef * (self._raw_actor.last_log_prob - log_prior)
        super().process_env_step(obs, rewards, dones, extras)

    def update(self) -> dict[str, float]:
        """FPO epochs over the stored rollout; returns mean losses and ratio statistics."""
        keys = ("surrogate", "value", "cfm_loss", "ratio_mean", "ratio_std", "clip_fraction", "estimator")
        sums = torch.zeros(len(keys), device=self.device)  # summed on device: no host sync per minibatch
        num_steps, skipped = 0, 0
        if self.symmetry:
            self._store_mirrored_old_losses()
        acting_estimator = (None if self._raw_actor.estimator is None
                            else copy.deepcopy(self._raw_actor.estimator).requires_grad_(False))
        for batch in self.storage.mini_batch_generator(self.num_mini_batches, self.num_learning_epochs):
            eps, tau, loss_old = batch.old_distribution_params[:3]  # [B, N, A], [B, N], [B, N]
            if self.normalize_advantage_per_mini_batch:
                batch.advantages = (batch.advantages - batch.advantages.mean()) / (batch.advantages.std() + 1e-8)
            if self.symmetry:  # the 4th stored parameter: the mirrored pairs' old losses
                eps, tau, loss_old = self._augment(batch, eps, tau, loss_old, batch.old_distribution_params[3])
            advantages = batch.advantages

            with torch.autocast(torch.device(self.device).type, torch.bfloat16, enabled=self.use_mixed_precision):
                latent, estimate = self.actor.latent_and_estimate(batch.observations, acting_estimator)
                loss_new = self.actor.cfm_loss(latent, batch.actions, eps, tau).float()
                values = self.critic(batch.observations).float()
            estimator_loss = (values.new_zeros(()) if estimate is None
                              else (estimate.float() - batch.observations[ESTIMATED_GROUP]).square().mean())
            log_ratio = fpo_log_ratio(loss_old, loss_new, self.ratio, self.cfm_loss_clamp, self.log_ratio_clamp)
            ratio = log_ratio.exp()
            surrogate_loss = -policy_objective(ratio, advantages, self.clip_param, self.objective).mean()

            value_loss = self._value_loss(values, batch.values, batch.returns)
            loss = surrogate_loss + self.value_loss_coef * value_loss + estimator_loss

            if not torch.isfinite(loss):
                warnings.warn("FPO: non-finite loss, optimizer step skipped.", stacklevel=2)
                skipped += 1
                continue
            self.optimizer.zero_grad()
            loss.backward()
            if self.is_multi_gpu:
                self.reduce_parameters()
            nn.utils.clip_grad_norm_(self.actor.parameters(), self.max_grad_norm)
            nn.utils.clip_grad_norm_(self.critic.parameters(), self.max_grad_norm)
            self.optimizer.step()

            num_steps += 1
            with torch.no_grad():
                clip_fraction = ((ratio - 1.0).abs() > self.clip_param).float().mean()
                sums += torch.stack([surrogate_loss, value_loss, loss_new.mean(), ratio.mean(),
                                     ratio.std(correction=0), clip_fraction, estimator_loss])

        obs = self.storage.observations.flatten(0, 1)
        self.actor.update_normalization(obs)
        self.critic.update_normalization(obs)
        self.storage.clear()
        self._update_ema()
        stats = dict(zip(keys, (sums / max(num_steps, 1)).tolist()))
        stats["skipped_steps"] = float(skipped)
        if self.actor.estimator is None:
            del stats["estimator"]
        return stats

    def _check_one_mirror_per_sample(self) -> None:
        """Refuse (before any rollout) an augmentation that does not return exactly one mirror per sample: the stored
        old losses and the mirrored eps are laid out for 2x the batch."""
        func = self.symmetry.data_augmentation_func
        one_action = torch.zeros(1, self.actor.action_dim, device=self.device)
        _, probe = func(env=self.symmetry.env, obs=None, actions=one_action)
        if probe.shape[0] != 2:
            raise ConfigError("FPO's symmetry takes an augmentation function that adds one mirror per sample (2x the "
                              f"batch); {func.__name__} returned {probe.shape[0]}x.")

    def _mirror_eps(self, eps: torch.Tensor) -> torch.Tensor:
        """CFM noise [B, N, A] -> [2 B, N, A]: the originals, then mirrored as the actions are."""
        batch_size, num_mc, _ = eps.shape
        _, eps = self.symmetry.data_augmentation_func(env=self.symmetry.env, obs=None, actions=eps.flatten(0, 1))
        return eps.view(-1, batch_size, num_mc, eps.shape[-1]).flatten(0, 1)

    def _store_mirrored_old_losses(self) -> None:
        """The old CFM losses of the mirrored pairs [T, E, N] under the acting weights (the actor before this
        update), kept as a 4th stored distribution parameter for the mini-batches. The old loss of an original
        pair would be exact for the mirrored one only if the policy were mirror-symmetric: a G1 run that reused it
        diverged (README Results, stop 27)."""
        storage = self.storage
        eps, tau = storage.distribution_params[:2]
        num_steps, num_envs = tau.shape[:2]
        size = num_steps * num_envs
        obs, actions = self.symmetry.data_augmentation_func(env=self.symmetry.env, obs=storage.observations.flatten(0, 1),
                                                            actions=storage.actions.flatten(0, 1))
        mirrored_eps = self._mirror_eps(eps.flatten(0, 1))[size:]
        with torch.no_grad():
            latent = self.actor.get_latent(obs[size:])
            loss = self.actor.cfm_loss(latent, actions[size:], mirrored_eps, tau.flatten(0, 1))
        storage.distribution_params = (*storage.distribution_params[:3], loss.view(num_steps, num_envs, -1))

    def _augment(self, batch, eps: torch.Tensor, tau: torch.Tensor, loss_old: torch.Tensor,
                 mirrored_loss_old: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """rsl_rl's symmetry augmentation of the batch [B] -> [2 B], and of its CFM pairs: eps [B, N, A] mirrored as
        the actions are, tau [B, N] repeated, the old losses [B, N] followed by the mirrored pairs' own."""
        self.symmetry.augment_batch(batch, tau.shape[0])
        return self._mirror_eps(eps), tau.repeat(2, 1), torch.cat([loss_old, mirrored_loss_old])

    def _value_loss(self, values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
        """PPO's (optionally clipped) value loss; values, old_values, returns are [B, 1]."""
        if not self.use_clipped_value_loss:
            return (returns - values).pow(2).mean()
        clipped = old_values + (values - old_values).clamp(-self.clip_param, self.clip_param)
        return torch.max((values - returns).pow(2), (clipped - returns).pow(2)).mean()

    def _update_ema(self) -> None:
        """ema <- decay * ema + (1 - decay) * actor after ``ema_start`` updates; a plain copy before."""
        self.num_updates += 1
        if self.ema_actor is None:
            return
        decay = self.ema_decay if self.num_updates > self.ema_start else 0.0
        self.ema_actor._last_actions = self._raw_actor._last_actions  # the logger reads the policy's sample spread
        with torch.no_grad():
            for ema_p, p in zip(self.ema_actor.state_dict().values(), self._raw_actor.state_dict().values()):
                if ema_p.dtype.is_floating_point:
                    ema_p.mul_(decay).add_(p, alpha=1.0 - decay)
                else:
                    ema_p.copy_(p)

    def get_policy(self) -> FlowActor:
        """The EMA actor where EMA is on (evaluation and export), else the trained actor."""
        return self.ema_actor if self.ema_actor is not None else self._raw_actor

    def save(self) -> dict:
        saved = super().save()
        saved["fpo_num_updates"] = self.num_updates
        if self.ema_actor is not None:
            saved["ema_actor_state_dict"] = self.ema_actor.state_dict()
        return saved

    def load(self, loaded_dict: dict, load_cfg: dict | None, strict: bool) -> bool:
        """rsl_rl's load, which also restores the saved learning rate from the optimizer state (for PPO's adaptive
        schedule); FPO's schedule is fixed, so the configured rate stays (a resumed run may be given a new one)."""
        learning_rate = self.learning_rate
        load_iteration = super().load(loaded_dict, load_cfg, strict)
        self.learning_rate = learning_rate
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
        self.num_updates = loaded_dict.get("fpo_num_updates", 0)
        if self.ema_actor is not None:
            self.ema_actor.load_state_dict(loaded_dict.get("ema_actor_state_dict", self._raw_actor.state_dict()))
        return load_iteration

