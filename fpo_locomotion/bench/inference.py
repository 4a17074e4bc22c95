"""``fpo-loco bench inference``: robot-side cost of the exported K-step flow policy, per K.

A freshly initialized flow actor of the task's sizes (G1-Flat: policy obs 47, 12 actions, 3x256; random
output layer, which training initializes at zero) is exported to ``policy.onnx`` for each K, exactly as
``fpo-loco export`` writes it (unrolled, split first layer), and timed with onnxruntime on the CPU: one
intra-op and one inter-op thread, batch 1, as a robot's control loop calls it. The straightforward export
of the actor's own sampler (``FlowPolicyModule``: time embedding and concatenations inside every step) is
timed beside it, interleaved in chunks so that both see the same machine load. Latency is reported as
median and p99, and as a fraction of the control period. p99 on a busy shared machine is the scheduler's,
not the graph's: measure it on the robot's computer with its cores isolated.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
import torch
from tensordict import TensorDict

from fpo_locomotion.export import OPSET, _export_onnx
from fpo_locomotion.models.flow_actor import FlowActor
from fpo_locomotion.models.flow_policy import FlowPolicyModule, UnrolledFlowPolicy

CHUNK = 50
"""Calls per interleaved chunk."""


def _session(path: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def _time_interleaved(sessions: list[ort.InferenceSession], obs: np.ndarray, calls: int) -> list[np.ndarray]:
    """Seconds per call [calls] of each session, measured in alternating chunks of ``CHUNK`` calls."""
    times = [[] for _ in sessions]
    for s in sessions:
        for _ in range(CHUNK):  # warm-up
            s.run(None, {"obs": obs})
    for _ in range(max(1, calls // CHUNK)):
        for s, out in zip(sessions, times):
            for _ in range(CHUNK):
                start = time.perf_counter()
                s.run(None, {"obs": obs})
                out.append(time.perf_counter() - start)
    return [np.array(t) for t in times]


def bench_inference(ks=(1, 2, 4, 8, 16, 32, 64), task: str = "G1-Flat", calls: int = 1000, seed: int = 0) -> list[dict]:
    """Median and p99 latency (ms, and % of the control period) of ``policy.onnx`` at batch 1 for each K in ``ks``."""
    from fpo_locomotion.train import make_env, resolve_configs

    torch.manual_seed(seed)
    spec, env_cfg, train_cfg = resolve_configs(task)
    env = make_env(spec, env_cfg, 1, "cpu", seed)
    obs_td = env.get_observations()
    control_dt = float(env.deploy_metadata()["control_dt"]) if hasattr(env, "deploy_metadata") else 0.02
    flow = {k: v for k, v in vars(train_cfg.flow_actor).items() if k != "flow_steps"}
    groups = train_cfg.runner.obs_groups
    actor = FlowActor(TensorDict({g: obs_td[g] for g in groups["actor"]}, batch_size=[1]), groups, "actor",
                      env.num_actions, **flow).eval()
    torch.nn.init.normal_(actor.net.trunk[-1].weight, std=0.05)  # it starts at zero; time a policy that acts
    obs = obs_td["policy"][:1].numpy() if groups["actor"] == ["policy"] else np.zeros((1, actor.obs_dim), np.float32)
    hidden = "x".join(str(h) for h in train_cfg.flow_actor.hidden_dims)
    print(f"policy.onnx latency, onnxruntime {ort.__version__} CPU, 1 thread, batch 1, {task} sizes "
          f"(obs {actor.obs_dim}, actions {actor.action_dim}, {hidden}), opset {OPSET}, {calls} calls; "
          f"control period {1e3 * control_dt:.0f} ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"  {'K':>3} | {'median ms':>9} | {'p99 ms':>7} | {'median/period':>13} | {'p99/period':>10} | "
          f"{'naive graph median ms':>21} | nodes")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in ks:
            paths = {}
            for name, module in (("unrolled", UnrolledFlowPolicy(actor, k)), ("naive", FlowPolicyModule(actor, k))):
                paths[name] = os.path.join(tmp, f"{name}_{k}.onnx")
                _export_onnx(module.eval(), (torch.zeros(1, actor.obs_dim),), ["obs"], "actions", actor.action_dim,
                             paths[name], {"flow_steps": k})
            unrolled, naive = _time_interleaved([_session(paths["unrolled"]), _session(paths["naive"])], obs, calls)
            row = {
                "flow_steps": k,
                "median_ms": 1e3 * float(np.median(unrolled)),
                "p99_ms": 1e3 * float(np.percentile(unrolled, 99)),
                "naive_median_ms": 1e3 * float(np.median(naive)),
                "nodes": len(onnx.load(paths["unrolled"]).graph.node),
            }
            row["median_fraction"] = row["median_ms"] / (1e3 * control_dt)
            row["p99_fraction"] = row["p99_ms"] / (1e3 * control_dt)
            rows.append(row)
            print(f"  {k:>3} | {row['median_ms']:9.3f} | {row['p99_ms']:7.3f} | {row['median_fraction']:13.1%} | "
                  f"{row['p99_fraction']:10.1%} | {row['naive_median_ms']:21.3f} | {row['nodes']}")
    return rows
