"""``fpo-loco export``: a checkpoint as ONNX graphs (and TorchScript) that a robot runs without torch.

Files written to ``out_dir`` for an FPO checkpoint (each one checked against torch before it is kept):

- ``policy.onnx``: ``obs`` [B, O] float32 -> ``actions`` [B, A]. Observation normalization baked in, the
  K-step Euler sampler unrolled from ``x_0 = 0`` (zero-sampling: deterministic). The robot default.
- ``policy_stochastic.onnx``: ``obs`` [B, O], ``noise`` [B, A] (``x_0``, draw N(0, I)) -> ``actions`` [B, A].
  A separate graph, so that ``policy.onnx`` has one input and cannot be fed noise by accident.
- ``denoiser.onnx``: ``obs`` [B, O], ``x_t`` [B, A], ``t`` [B] -> ``velocity`` [B, A] (normalization baked
  in), for robot-side samplers with their own K. Convention: t=0 noise, t=1 action, x_{t+dt} = x_t + dt v.
- ``policy.pt``: TorchScript policy (legged_gym style: ``torch.jit.load(p)(obs)``; ``(obs, noise)`` samples).
- ``metadata.json``: the metadata below plus the measured torch-vs-runtime errors, for people.

A PPO checkpoint gives ``policy.onnx`` / ``policy.pt`` only: ``obs`` -> the Gaussian's mean (normalization
baked in), the deterministic policy rsl_rl plays, so the baseline deploys and runs in sim2sim the same way.

Every ONNX file carries ``metadata_props`` (values are JSON strings): the task's ``deploy_metadata()``
(joint names, default pose, Kp/Kd, action scale, control dt, observation terms, commands...; for a task
without one, only ``task``) and ``obs_dim``, ``action_dim``, ``policy_type`` ("flow" with ``flow_steps``,
``noise_init``, ``flow_convention``; or "gaussian_mean"), ``algo``, ``weights``, ``fpo_locomotion_version``.
A flow actor with an estimator (``train.flow_actor.estimator_hidden_dims``) carries it inside every graph, and
the metadata names what it estimates (``estimated_terms``): the robot feeds the observation terms only.

The unrolled graph uses the velocity net's split first layer: per Euler step k the time-embedding part
``W_t emb(t_k)`` is a constant, the observation part ``W_obs obs`` is computed once, and dt is folded into
the output layer, so a step is 4 Gemm + 3 activations + 2 Add (same function, reassociated float sums).
The legacy TorchScript-based exporter (``dynamo=False``) is used: measured at K=64 (3x256) it exports in
~3-5 s and gives the faster graph; the torch.export-based one took 43-87 s and its graph ran slower.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
from tensordict import TensorDict
from torch import nn

import fpo_locomotion
from fpo_locomotion.checkpoints import build_policy, load_checkpoint, resolve_checkpoint, saved_env_cfg
from fpo_locomotion.errors import CheckpointError, ConfigError, UserError
from fpo_locomotion.models.flow_policy import DenoiserModule, FlowPolicyModule, UnrolledFlowPolicy
from fpo_locomotion.pretrained import output_dir

OPSET = 18
TOLERANCE = 1e-4
"""Largest max-abs difference between the runtime (onnxruntime / TorchScript) and torch that export accepts."""
VERIFY_BATCH_SIZES = (1, 257)
METADATA_FORMAT = 2
FLOW_CONVENTION = "t=0 noise, t=1 action; x_{k+1} = x_k + v(obs, x_k, k/K) / K"


# ---------------------------------------------------------------------------------------------- checkpoint
def make_task_env(infos: dict, num_envs: int = 1, seed: int = 0):
    """The checkpoint's task env, built from the env config saved in the checkpoint (``num_envs`` envs, CPU)."""
    from fpo_locomotion.tasks import get_task

    spec = get_task(infos["task"])
    env = spec.make_env(saved_env_cfg(infos, spec), num_envs=num_envs, device="cpu", seed=seed)
    obs_dims = {k: int(v.shape[-1]) for k, v in env.get_observations().items()}
    if obs_dims != infos["obs_dims"]:
        raise CheckpointError(f"Task '{spec.name}' now has observation dims {obs_dims}; the checkpoint was trained "
                              f"with {infos['obs_dims']}. The task changed since training.")
    return env


def export_metadata(infos: dict, obs_dim: int, action_dim: int, policy: dict, env=None) -> dict:
    """Deploy metadata (plain JSON types): the checkpoint's task, the env's ``deploy_metadata()`` + the policy's facts
    (``policy``: ``policy_type``, ``weights`` and, for a flow, its sampler)."""
    env = env if env is not None else make_task_env(infos)
    deploy = {"task": infos["task"], **(env.deploy_metadata() if hasattr(env, "deploy_metadata") else {})}
    deploy = json.loads(json.dumps(deploy))  # plain types, and a clear error below if it is not serializable
    terms = deploy.get("observation_terms")
    if terms is not None and sum(int(t["size"]) for t in terms) != obs_dim:
        raise UserError(f"The task's observation terms total {sum(int(t['size']) for t in terms)} values, the "
                        f"actor's observation has {obs_dim}: deploy_metadata() is out of date.")
    joints = deploy.get("joint_names")
    if joints is not None and len(joints) != action_dim:
        raise UserError(f"The task names {len(joints)} joints, the actor has {action_dim} actions.")
    spec = getattr(getattr(env, "backend", None), "spec", None)
    if spec is not None and "default_base_height" not in deploy:
        deploy["default_base_height"] = float(spec.default_base_height)  # the start height of training episodes
    return {
        **deploy,
        "obs_dim": obs_dim,
        "action_dim": action_dim,
        **policy,
        "algo": infos["algo"],
        "fpo_locomotion_version": fpo_locomotion.__version__,
        "metadata_format": METADATA_FORMAT,
    }


# ---------------------------------------------------------------------------------------------- writing
def _export_onnx(module: nn.Module, inputs: tuple[torch.Tensor, ...], input_names: list[str], output_name: str,
                 output_dim: int, path: str, metadata: dict) -> None:
    """``torch.onnx.export`` (legacy exporter, opset 18, dynamic batch) + ``metadata_props``; checked by onnx.

    The output is declared [batch, ``output_dim``] (the exporter leaves its second dim symbolic).
    """
    dynamic = {name: {0: "batch"} for name in [*input_names, output_name]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy exporter's DeprecationWarning, TracerWarnings
        torch.onnx.export(module, inputs, path, input_names=input_names, output_names=[output_name],
                          opset_version=OPSET, dynamo=False, dynamic_axes=dynamic)
    model = onnx.load(path)
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = output_dim
    onnx.helper.set_model_props(model, {k: json.dumps(v) for k, v in metadata.items()})
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def _max_abs_diff(path: str, module: nn.Module, make_inputs, input_names: list[str]) -> float:
    """Max |onnxruntime - torch| over ``VERIFY_BATCH_SIZES`` batches of inputs from ``make_inputs(batch)``."""
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    worst = 0.0
    for batch in VERIFY_BATCH_SIZES:
        inputs = make_inputs(batch)
        with torch.no_grad():
            expected = module(*inputs).numpy()
        (got,) = session.run(None, {n: x.numpy() for n, x in zip(input_names, inputs)})
        if got.shape != expected.shape:
            return float("inf")
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def _random_obs(actor: nn.Module, batch: int, gen: torch.Generator) -> torch.Tensor:
    """Observations [batch, O] spread like the training data: normalizer mean +- 2 std (raw N(0, 4) without one)."""
    z = 2.0 * torch.randn(batch, actor.obs_dim, generator=gen)
    if not actor.obs_normalization:
        return z
    norm = actor.obs_normalizer
    return norm._mean + z * norm._std


def _write_verified(out_dir: str, names: dict[str, str], write) -> tuple[dict[str, str], dict[str, float]]:
    """Files ``names`` (key -> file name) in ``out_dir``: ``write(tmp paths)`` writes them and returns the
    max |runtime - torch| per key; they are renamed into place only if every error is within ``TOLERANCE``
    (else UserError, nothing written). Returns (final paths, errors)."""
    os.makedirs(out_dir, exist_ok=True)
    final = {key: os.path.join(out_dir, name) for key, name in names.items()}
    tmp = {key: f"{path}.partial" for key, path in final.items()}
    try:
        errors = write(tmp)
        bad = {key: err for key, err in errors.items() if not err <= TOLERANCE}
        if bad:
            raise UserError("Export verification failed, nothing written: max |runtime - torch| "
                            + ", ".join(f"{key} {err:.2e}" for key, err in bad.items())
                            + f" exceeds {TOLERANCE:.0e}. Report this with the checkpoint.")
        for key in names:
            os.replace(tmp[key], final[key])
    finally:
        for path in tmp.values():
            if os.path.exists(path):
                os.remove(path)
    return final, errors


def export_policy(checkpoint: str, out_dir: str, flow_steps: int | None = None, use_ema: bool = True,
                  task: str | None = None) -> dict:
    """Export the checkpoint ``checkpoint`` (FPO or PPO) to ``out_dir``; returns ``{"paths", "errors", "metadata"}``.

    ``flow_steps`` (K of the exported sampler) defaults to the training K. Each graph is compared with the
    torch actor on random observations (batch 1 and 257); above ``TOLERANCE`` nothing is kept and UserError
    is raised. Files are written under temporary names and renamed only when every check passed. ``task``:
    refuse a checkpoint of another task.
    """
    loaded = load_checkpoint(checkpoint)
    trained_on = loaded["infos"].get("task")
    if task and trained_on != task:
        raise CheckpointError(f"Checkpoint '{checkpoint}' was trained on task '{trained_on}', not '{task}'. "
                              f"Pass --task {trained_on} or a checkpoint of {task}.")
    if loaded["infos"].get("algo") == "ppo":
        if flow_steps is not None:
            raise ConfigError("--flow-steps is a flow policy's setting; this is a PPO checkpoint (Gaussian actor).")
        metadata, (paths, errors) = _export_gaussian(loaded, out_dir)
    else:
        metadata, (paths, errors) = _export_flow(loaded, out_dir, flow_steps, use_ema)
    metadata_path = os.path.join(out_dir, "metadata.json")
    with open(metadata_path, "w") as f:
        json.dump({**metadata, "checkpoint": os.path.abspath(checkpoint), "max_abs_error_vs_torch": errors}, f, indent=2)
    return {"paths": {**paths, "metadata": metadata_path}, "errors": errors, "metadata": metadata}


def _export_flow(loaded: dict, out_dir: str, flow_steps: int | None, use_ema: bool):
    """(metadata, (paths, errors)) of an FPO checkpoint: policy, stochastic policy, denoiser, TorchScript."""
    actor, weights = build_policy(loaded, use_ema)
    k = actor.flow_steps if flow_steps is None else flow_steps
    if not isinstance(k, int) or k < 1:
        raise ConfigError(f"--flow-steps must be a positive integer, got {flow_steps!r}.")
    o, a = actor.obs_dim, actor.action_dim
    policy_facts = {"policy_type": "flow", "flow_steps": k, "noise_init": "zeros", "flow_convention": FLOW_CONVENTION,
                    "weights": weights}
    if actor.estimator is not None:
        estimated = loaded["infos"]["env_cfg"]["observations"]["estimated"]
        policy_facts["estimated_terms"] = {name: {"func": term["func"], "scale": term["scale"]}
                                           for name, term in estimated.items()}
        policy_facts["estimator"] = ("the policy estimates estimated_terms (scale * value) from the observation inside "
                                     "every exported graph; the robot feeds observation_terms only")
    metadata = {**export_metadata(loaded["infos"], o, a, policy_facts), "checkpoint_iteration": int(loaded.get("iter", -1))}
    gen = torch.Generator().manual_seed(0)
    reference = FlowPolicyModule(actor, k).eval()  # the actor's own sampler: what training evaluates

    def write(tmp: dict[str, str]) -> dict[str, float]:
        errors = {}
        policy = UnrolledFlowPolicy(actor, k).eval()
        _export_onnx(policy, (torch.zeros(1, o),), ["obs"], "actions", a, tmp["policy"], metadata)
        errors["policy"] = _max_abs_diff(tmp["policy"], reference, lambda b: (_random_obs(actor, b, gen),), ["obs"])

        _export_onnx(policy, (torch.zeros(1, o), torch.zeros(1, a)), ["obs", "noise"], "actions", a,
                     tmp["policy_stochastic"], {**metadata, "noise_init": "input"})
        errors["policy_stochastic"] = _max_abs_diff(
            tmp["policy_stochastic"], reference,
            lambda b: (_random_obs(actor, b, gen), torch.randn(b, a, generator=gen)), ["obs", "noise"])

        denoiser = DenoiserModule(actor).eval()
        _export_onnx(denoiser, (torch.zeros(1, o), torch.zeros(1, a), torch.zeros(1)), ["obs", "x_t", "t"], "velocity",
                     a, tmp["denoiser"], metadata)
        errors["denoiser"] = _max_abs_diff(
            tmp["denoiser"], denoiser,
            lambda b: (_random_obs(actor, b, gen), torch.randn(b, a, generator=gen), torch.rand(b, generator=gen)),
            ["obs", "x_t", "t"])

        errors["torchscript"] = _export_torchscript(policy, reference, tmp["torchscript"], _random_obs(actor, 64, gen))
        return errors

    names = {"policy": "policy.onnx", "policy_stochastic": "policy_stochastic.onnx",
             "denoiser": "denoiser.onnx", "torchscript": "policy.pt"}
    return metadata, _write_verified(out_dir, names, write)


class _GaussianMeanReference(nn.Module):
    """The PPO actor as training runs it (observation groups as a TensorDict, deterministic output): obs [B, O] -> mean [B, A]."""

    def __init__(self, actor: nn.Module, group_dims: dict[str, int]) -> None:
        super().__init__()
        self.actor, self.group_dims = actor, group_dims

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        parts = torch.split(obs, list(self.group_dims.values()), dim=-1)
        return self.actor(TensorDict(dict(zip(self.group_dims, parts)), batch_size=[obs.shape[0]]))


def _export_gaussian(loaded: dict, out_dir: str):
    """(metadata, (paths, errors)) of a PPO checkpoint: the Gaussian mean as ONNX and TorchScript."""
    infos = loaded["infos"]
    actor, _ = build_policy(loaded)
    o, a = actor.obs_dim, infos["num_actions"]
    metadata = {**export_metadata(infos, o, a, {"policy_type": "gaussian_mean", "weights": "actor"}),
                "checkpoint_iteration": int(loaded.get("iter", -1))}
    reference = _GaussianMeanReference(actor, {g: infos["obs_dims"][g] for g in actor.obs_groups}).eval()
    gen = torch.Generator().manual_seed(0)

    def write(tmp: dict[str, str]) -> dict[str, float]:
        _export_onnx(actor.as_onnx(verbose=False).eval(), (torch.zeros(1, o),), ["obs"], "actions", a, tmp["policy"],
                     metadata)
        errors = {"policy": _max_abs_diff(tmp["policy"], reference, lambda b: (_random_obs(actor, b, gen),), ["obs"])}
        obs = _random_obs(actor, 64, gen)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.script(actor.as_jit().eval()).save(tmp["torchscript"])
            errors["torchscript"] = float((torch.jit.load(tmp["torchscript"])(obs) - reference(obs)).abs().max())
        return errors

    return metadata, _write_verified(out_dir, {"policy": "policy.onnx", "torchscript": "policy.pt"}, write)


def _export_torchscript(policy: UnrolledFlowPolicy, reference: nn.Module, path: str, obs: torch.Tensor) -> float:
    """Script and save ``policy``; returns max |reloaded - reference| on ``obs`` [B, O], zero and random noise."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated upstream; legged_gym deploys use it
        torch.jit.script(policy).save(path)
        reloaded = torch.jit.load(path)
        noise = torch.randn(obs.shape[0], policy.action_dim)
        return max(float((reloaded(obs) - reference(obs)).abs().max()),
                   float((reloaded(obs, noise) - reference(obs, noise)).abs().max()))


def run_export(checkpoint: str, out_dir: str | None = None, task: str | None = None, flow_steps: int | None = None,
               use_ema: bool = True, log_root: str = "logs") -> dict:
    """``fpo-loco export``: resolve ``checkpoint`` (file, run directory, or "latest" of ``task``), export, print a summary.

    ``out_dir`` defaults to ``<run directory>/exported`` (``<log_root>/pretrained/<name>/exported`` for
    "pretrained:<name>").
    """
    if checkpoint == "latest" and not task:
        raise ConfigError("'latest' needs --task: the newest run of which task?")
    path = resolve_checkpoint(checkpoint, task or "", log_root)
    out_dir = out_dir or os.path.join(output_dir(checkpoint, path, log_root), "exported")
    result = export_policy(path, out_dir, flow_steps=flow_steps, use_ema=use_ema, task=task)
    meta = result["metadata"]
    sampler = f"K={meta['flow_steps']}" if meta["policy_type"] == "flow" else "Gaussian mean"
    print(f"Exported {path} ({meta['task']}, {meta['algo'].upper()}, {meta['weights']} weights, {sampler}, "
          f"obs {meta['obs_dim']} -> actions {meta['action_dim']}) to {out_dir}:")
    for key, file in result["paths"].items():
        err = result["errors"].get(key)
        print(f"  {os.path.basename(file):24s}" + (f" max |runtime - torch| = {err:.1e}" if err is not None else ""))
    return result
