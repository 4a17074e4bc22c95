"""``fpo-loco config``: every ``env.*`` / ``train.*`` key of a task with its type, value and docstring.

The keys are those ``--set section.key=value`` accepts (``config.apply_overrides``) and the values are
printed as YAML flow scalars, so a line can be copied into ``--set key=value`` as it stands. Docstrings are
the string literals written right after each dataclass field, read from the class source (``ast``), the
nearest one along the class's MRO for inherited or redefined fields.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import textwrap
import typing
from typing import Any, NamedTuple

import yaml

from fpo_locomotion.errors import ConfigError

ALGO_SECTIONS = {"fpo": ("ppo", "gaussian_actor"), "ppo": ("fpo", "flow_actor")}
"""``--algo``: the train sections the other algorithm uses, left out of the listing."""


class Row(NamedTuple):
    key: str
    """Dotted key, e.g. ``env.rewards.feet_air_time.weight``."""
    type_str: str
    default: Any
    doc: str
    """The field's docstring on one line; "" when it has none."""


@functools.cache
def _own_field_docs(cls: type) -> dict[str, str]:
    """``{field: docstring}`` for the annotated fields of ``cls``'s own body followed by a string literal."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):  # defined in a REPL, by exec, or in a C extension: no docs
        return {}
    body = next((node.body for node in tree.body if isinstance(node, ast.ClassDef)), [])
    docs = {}
    for node, after in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def field_docs(cls: type) -> dict[str, str]:
    """Docstrings of the fields of dataclass ``cls``, inherited ones included (the subclass's wins)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            docs.update(_own_field_docs(klass))
    return docs


def type_str(annotation: Any) -> str:
    """``float``, ``tuple[float, float]``, ``float | None``: as written in the source."""
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def config_rows(cfg: Any, prefix: str = "") -> list[Row]:
    """One row per leaf field of dataclass ``cfg``, keys starting with ``prefix``: nested sections and dicts of
    entries (``env.rewards.<term>.*``) flattened, each entry's ``params`` one row per parameter."""
    hints = typing.get_type_hints(type(cfg))
    docs = field_docs(type(cfg))
    rows = []
    for f in dataclasses.fields(cfg):
        value, key = getattr(cfg, f.name), f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            rows += config_rows(value, f"{key}.")
        elif isinstance(value, dict) and value and all(dataclasses.is_dataclass(v) for v in value.values()):
            rows += [row for name, entry in value.items() for row in config_rows(entry, f"{key}.{name}.")]
        elif isinstance(value, dict) and f.name == "params":
            rows += [Row(f"{key}.{name}", type(v).__name__, v, "") for name, v in value.items()]
        else:
            rows.append(Row(key, type_str(hints[f.name]), value, docs.get(f.name, "")))
    return rows


def task_rows(env_cfg: Any, train_cfg: Any, algo: str | None = None, key_filter: str = "") -> list[Row]:
    """The ``env.*`` and ``train.*`` rows of a task; ``algo`` drops the other algorithm's train sections,
    ``key_filter`` keeps the keys equal to it or under it (ConfigError naming the valid keys if none)."""
    skip = tuple(f"train.{s}." for s in ALGO_SECTIONS.get(algo, ()))
    every = config_rows(env_cfg, "env.") + config_rows(train_cfg, "train.")
    rows = [r for r in every if not r.key.startswith(skip)]
    hidden = [r for r in every if r.key.startswith(skip) and _is_under(r.key, key_filter)] if skip and key_filter else []
    if hidden and not any(_is_under(r.key, key_filter) for r in rows):
        raise ConfigError(f"'{key_filter}' belongs to the other algorithm: drop --algo {algo} to list it.")
    return select_rows(rows, key_filter)


def _is_under(key: str, key_filter: str) -> bool:
    key_filter = key_filter.strip().rstrip(".")
    return key == key_filter or key.startswith(f"{key_filter}.")


def select_rows(rows: list[Row], key_filter: str) -> list[Row]:
    """Rows whose key is ``key_filter`` or lies under it, e.g. ``env.events`` -> ``env.events.*``."""
    key_filter = key_filter.strip().rstrip(".")
    if not key_filter:
        return rows
    chosen = [r for r in rows if _is_under(r.key, key_filter)]
    if chosen:
        return chosen
    parent = key_filter
    while parent and not any(r.key.startswith(f"{parent}.") for r in rows):
        parent = parent.rpartition(".")[0]
    depth = parent.count(".") + 1 if parent else 0
    valid = sorted({".".join(r.key.split(".")[:depth + 1]) for r in rows if not parent or r.key.startswith(f"{parent}.")})
    where = f"under '{parent}'" if parent else "sections"
    names = ", ".join(v.rpartition(".")[2] if parent else v for v in valid)
    raise ConfigError(f"No config key '{key_filter}' or keys under it. Valid {where}: {names}.")


def format_value(value: Any) -> str:
    """``value`` as ``--set`` reads it back (a YAML flow scalar): ``0.25``, ``[0.3, 1.25]``, ``null``, ``mujoco``."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("...").strip()


def format_rows(rows: list[Row]) -> str:
    """One aligned line per key: ``KEY  TYPE = VALUE  DOC``."""
    heads = [(r.key, f"{r.type_str} = {format_value(r.default)}") for r in rows]
    key_w = max((len(k) for k, _ in heads), default=0)
    val_w = min(max((len(v) for _, v in heads), default=0), 40)  # a long value shifts its own doc, not every line
    return "\n".join(f"{k:<{key_w}}  {v:<{val_w}}  {r.doc}".rstrip() for (k, v), r in zip(heads, rows))
