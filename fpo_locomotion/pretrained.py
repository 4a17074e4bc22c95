"""Policies shipped with the package: ``pretrained:<name>`` in ``play``, ``export`` and ``sim2sim``.

Each is a folder ``resources/pretrained/<name>/`` holding the training checkpoint ``model.pt``, its export
``policy.onnx`` and ``README.md`` with the command that trained it. Torch-free (sim2sim imports it).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from fpo_locomotion.errors import CheckpointError

PREFIX = "pretrained:"


def pretrained_root() -> Path:
    return Path(str(importlib.resources.files("fpo_locomotion.resources"))) / "pretrained"


def pretrained_names() -> list[str]:
    root = pretrained_root()
    return sorted(p.name for p in root.iterdir() if (p / "model.pt").is_file()) if root.is_dir() else []


def pretrained_file(spec: str, file: str) -> str | None:
    """The path of ``file`` ("model.pt", "policy.onnx") of ``spec`` = "pretrained:<name>"; None if ``spec``
    names no pretrained policy (a path); CheckpointError for an unknown name."""
    if not spec.startswith(PREFIX):
        return None
    name = spec[len(PREFIX):]
    if name not in pretrained_names():
        raise CheckpointError(f"No pretrained policy '{name}'. Shipped: "
                              f"{', '.join(PREFIX + n for n in pretrained_names()) or 'none'}.")
    return str(pretrained_root() / name / file)


def output_dir(spec: str, checkpoint_path: str, log_root: str) -> str:
    """Where play/export write for ``spec``: beside the checkpoint, or ``<log_root>/pretrained/<name>`` for a
    shipped policy (never into the installed package)."""
    if spec.startswith(PREFIX):
        return str(Path(log_root) / "pretrained" / spec[len(PREFIX):])
    return str(Path(checkpoint_path).resolve().parent)
