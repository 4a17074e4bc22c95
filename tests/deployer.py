"""A robot-side observation builder written from docs/deploy.md alone: numpy and the ONNX metadata, no
fpo_locomotion import (tests/test_deploy.py checks it against the training env)."""

import json

import numpy as np
import onnx


def read_metadata(onnx_path: str) -> dict:
    return {p.key: json.loads(p.value) for p in onnx.load(onnx_path).metadata_props}


def term_value(name: str, meta: dict, quat, ang_vel, command, q, dq, last_action, steps_since_start) -> np.ndarray:
    """The value of observation term ``name`` (before its scale), as docs/deploy.md defines it."""
    if name == "base_ang_vel":
        return np.asarray(ang_vel, np.float64)
    if name == "projected_gravity":
        w, x, y, z = quat
        return np.array([2 * (w * y - x * z), -2 * (y * z + w * x), 2 * (x * x + y * y) - 1])
    if name == "command":
        return np.asarray(command, np.float64)
    if name == "joint_pos":
        return np.asarray(q) - np.asarray(meta["default_joint_pos"])
    if name == "joint_vel":
        return np.asarray(dq, np.float64)
    if name == "last_action":
        return np.asarray(last_action, np.float64)
    if name == "gait_phase":
        clock = meta["gait_clock"]
        phi = np.mod(steps_since_start * meta["control_dt"] / clock["period_s"] + clock["leg_offsets"][0], 1.0)
        return np.array([np.sin(2 * np.pi * phi), np.cos(2 * np.pi * phi)])
    raise KeyError(f"docs/deploy.md does not define observation term '{name}'")


def observation(meta: dict, **signals) -> np.ndarray:
    """The policy input [obs_dim]: each term's value times its scale, in ``observation_terms`` order."""
    parts = [term_value(t["name"], meta, **signals) * np.asarray(t["scale"]) for t in meta["observation_terms"]]
    return np.concatenate(parts)


def joint_targets(meta: dict, action) -> np.ndarray:
    return np.asarray(meta["default_joint_pos"]) + meta["action_scale"] * np.asarray(action)
