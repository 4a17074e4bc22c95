"""``fpo-loco config``: every key it prints is one ``--set`` accepts, with its value and docstring."""

import dataclasses

import pytest

from fpo_locomotion.cli import main
from fpo_locomotion.config_doc import config_rows, format_rows, format_value, task_rows
from fpo_locomotion.tasks import get_task, task_names
from fpo_locomotion.train import resolve_configs


def _get(env_cfg, train_cfg, key):
    section, *path = key.split(".")
    node = env_cfg if section == "env" else train_cfg
    for name in path:
        node = node[name] if isinstance(node, dict) else getattr(node, name)
    return node


@pytest.mark.parametrize("task", task_names())
def test_every_printed_key_round_trips_through_set(task):
    """Each line's key and printed value, given back as ``--set key=value`` to a fresh config, is accepted and
    gives the same value (the output is copy-pasteable)."""
    spec = get_task(task)
    rows = task_rows(spec.env_cfg(), spec.train_cfg())
    assert rows and all(r.key.startswith(("env.", "train.")) for r in rows)
    for row in rows:
        _, env_cfg, train_cfg = resolve_configs(task, overrides=(f"{row.key}={format_value(row.default)}",))
        assert _get(env_cfg, train_cfg, row.key) == row.default, row.key


def test_rows_cover_every_leaf_of_the_configs():
    spec = get_task("G1-Flat")
    env_cfg, train_cfg = spec.env_cfg(), spec.train_cfg()
    keys = {r.key for r in task_rows(env_cfg, train_cfg)}

    def leaves(cfg, prefix):
        items = cfg.items() if isinstance(cfg, dict) else ((f.name, getattr(cfg, f.name)) for f in dataclasses.fields(cfg))
        for name, value in items:
            entries = ("rewards", "terminations", "events", "policy", "critic", "params")  # dicts of entries, not values
            branch = dataclasses.is_dataclass(value) or (isinstance(value, dict) and name in entries)
            yield from leaves(value, f"{prefix}{name}.") if branch else [f"{prefix}{name}"]

    assert keys == set(leaves(env_cfg, "env.")) | set(leaves(train_cfg, "train."))


def test_known_docstrings_types_and_task_defaults():
    spec = get_task("G1-Flat")
    rows = {r.key: r for r in task_rows(spec.env_cfg(), spec.train_cfg())}
    termination = rows["env.rewards.termination.weight"]
    assert (termination.type_str, termination.default) == ("float", -25.0)
    assert termination.doc.startswith("Per second; a term with weight 0")
    assert (rows["env.rewards.track_lin_vel_xy.params.sigma"].type_str, rows["env.rewards.base_height.params.target"].default) \
        == ("float", 0.78)
    assert rows["train.fpo.ratio"].doc == '"per_sample" (FPO++) or "mean" (vanilla FPO).'
    assert rows["env.disturbance_curriculum"].type_str == "tuple[int, int]"
    assert rows["env.events.friction.params.range"].default == [0.3, 1.25]
    assert rows["train.fpo.ema_decay"].type_str == "float | None"
    assert rows["train.flow_actor.num_mc"].default == 4  # the task's value, not the dataclass default (8)
    assert rows["env.physics_dt"].doc == ""  # no docstring: no doc


def test_inherited_fields_are_listed_with_their_docstrings():
    rows = {r.key: r for r in task_rows(get_task("G1-Flat").env_cfg(), get_task("G1-Flat").train_cfg())}
    assert rows["train.fpo.learning_rate"].default == 3e-4  # from OnPolicyConfig, redefined by FPOConfig
    assert "train.fpo.gamma" in rows and "train.ppo.gamma" in rows  # OnPolicyConfig only
    assert rows["train.flow_actor.hidden_dims"].default == [256, 128, 128]  # from CriticConfig
    assert rows["train.flow_actor.flow_steps"].doc.startswith("K Euler steps")


def test_algo_and_prefix_select_keys():
    spec = get_task("G1-Flat")
    fpo_keys = {r.key for r in task_rows(spec.env_cfg(), spec.train_cfg(), algo="fpo")}
    assert "train.fpo.ratio" in fpo_keys and not any(k.startswith(("train.ppo.", "train.gaussian_actor.")) for k in fpo_keys)
    rows = task_rows(spec.env_cfg(), spec.train_cfg(), key_filter="env.events")
    assert rows and all(r.key.startswith("env.events.") for r in rows)
    assert [r.key for r in task_rows(spec.env_cfg(), spec.train_cfg(), key_filter="env.rewards.contact")] == \
        ["env.rewards.contact.func", "env.rewards.contact.params.stance_fraction", "env.rewards.contact.weight",
         "env.rewards.contact.weight_steps"]
    # a whole key, not a string prefix (contact_no_vel is not listed)


def test_format_is_key_type_value_doc():
    spec = get_task("G1-Flat")
    line = format_rows(task_rows(spec.env_cfg(), spec.train_cfg(), key_filter="env.rewards.feet_air_time.weight"))
    assert line.split()[:5] == ["env.rewards.feet_air_time.weight", "float", "=", "2.0", "Per"]
    fpo = spec.train_cfg().fpo
    assert len(format_rows(config_rows(fpo, "train.fpo.")).splitlines()) == len(dataclasses.fields(fpo))  # one line a key


def test_cli_prints_effective_values(capsys):
    main(["config", "--task", "G1-Flat", "--set", "env.events.push.params.max_vel_xy=1.0", "env.events"])
    out = capsys.readouterr().out
    assert "env.events.push.params.max_vel_xy" in out and "= 1.0" in out and "env.rewards" not in out


@pytest.mark.parametrize(("args", "message"), [
    (["--task", "G1-Flat", "env.domain"], "No config key 'env.domain' or keys under it. Valid under 'env': "),
    (["--task", "G1-Flat", "--algo", "fpo", "train.ppo"], "'train.ppo' belongs to the other algorithm"),
    (["--task", "no-such-task"], "Unknown task 'no-such-task'. Registered tasks: "),
])
def test_cli_unknown_prefix_or_task_is_one_line_exit_2(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["config", *args])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err and captured.err.count("\n") == 1
