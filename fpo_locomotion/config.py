"""Training configuration as typed dataclasses, overridable from YAML files and ``--set key=value`` pairs.

``TrainConfig.to_rsl_rl(algo)`` turns it into the dict rsl_rl's ``OnPolicyRunner`` expects, with
``class_name`` strings that pick FPO + FlowActor (``algo="fpo"``) or rsl_rl's own PPO + Gaussian
``MLPModel`` (``algo="ppo"``) on the same critic, rollout length and budget.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

import yaml

from fpo_locomotion.errors import ConfigError

ALGOS = ("fpo", "ppo")
CONFIG_FORMAT = 3
"""Format of the env and train configs a checkpoint records (``infos["config_format"]``, absent: 1). 2: rewards,
terminations and observations are term entries (``fpo_locomotion.tasks.terms``); 3: so are events
(randomization, pushes). A task reads older checkpoints through its ``TaskSpec.upgrade_env_cfg``."""


@dataclass
class CriticConfig:
    """An MLP on the critic observations (also the base of the actor configs)."""

    hidden_dims: list[int] = field(default_factory=lambda: [256, 256, 256])
    activation: str = "elu"
    obs_normalization: bool = True


@dataclass
class FlowActorConfig(CriticConfig):
    flow_steps: int = 10
    """K Euler steps from noise to action (FPO paper: 10; FPO++ G1 recipe: 64)."""
    num_mc: int = 8
    """N Monte-Carlo (tau, eps) pairs per action (FPO paper: 8; FPO++ G1 recipe: 32)."""
    time_embed_dim: int = 16
    action_perturb_std: float = 0.0
    estimator_hidden_dims: list[int] = field(default_factory=list)
    """Hidden layers of an MLP that estimates the env's ``estimated`` observation group (``env.observations.estimated``)
    from the normalized policy observation, trained by regression beside FPO's loss; the flow sees the observation
    and the estimate. Empty: no estimator."""


@dataclass
class GaussianActorConfig(CriticConfig):
    init_std: float = 1.0


@dataclass
class OnPolicyConfig:
    """Settings rsl_rl's PPO machinery shares between FPO and PPO (rollout returns, epochs, value loss)."""

    clip_param: float = 0.2
    num_learning_epochs: int = 5
    num_mini_batches: int = 4
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    gamma: float = 0.99
    lam: float = 0.95
    value_loss_coef: float = 1.0
    max_grad_norm: float = 1.0
    use_clipped_value_loss: bool = True
    normalize_advantage_per_mini_batch: bool = False
    use_mixed_precision: bool = False
    """The update's network passes in bf16 autocast (rsl_rl's option; pays on CPUs with AMX or avx512_bf16 and
    on GPUs; rollouts stay float32)."""
    symmetry: bool = False
    """Left-right symmetry augmentation: every mini-batch is learned on as it is and mirrored (rsl_rl's
    ``symmetry_cfg`` with ``fpo_locomotion.envs.symmetry:mirror_augmentation``; the task must have a mirror)."""


@dataclass
class FPOConfig(OnPolicyConfig):
    ratio: str = "per_sample"
    """"per_sample" (FPO++) or "mean" (vanilla FPO)."""
    objective: str = "aspo"
    """"aspo" (FPO++: PPO clip for A >= 0, SPO penalty for A < 0) or "ppo_clip"."""
    clip_param: float = 0.05
    cfm_loss_clamp: float = 20.0
    log_ratio_clamp: float = 5.0
    ema_decay: float | None = None
    ema_start: int = 0
    prior_kl_coef: float = 0.0
    """Reward bonus -coef * (log pi(a) - log prior(a)) from the flow's exact density (0: off)."""
    prior_std: float = 1.0
    """Scale of the prior of ``prior_kl_coef``, prior(a) ~ prod_i exp(-|a_i / prior_std|^prior_power / 2)."""
    prior_power: float = 2.0
    """2: the Gaussian N(0, prior_std^2 I); larger: flat-topped out to about +-prior_std, then steep."""
    num_learning_epochs: int = 10
    learning_rate: float = 3e-4
    optimizer: str = "adamw"


@dataclass
class PPOConfig(OnPolicyConfig):
    entropy_coef: float = 0.01
    schedule: str = "adaptive"
    desired_kl: float = 0.01


@dataclass
class RunnerConfig:
    num_steps_per_env: int = 24
    max_iterations: int = 1000
    save_interval: int = 50
    seed: int = 42
    logger: str = "tensorboard"
    """"tensorboard" or "wandb"."""
    wandb_project: str = "fpo-locomotion"
    print_interval: int = 25
    """Print rsl_rl's full statistics block every this many iterations (a progress bar shows the rest)."""
    obs_groups: dict[str, list[str]] = field(default_factory=lambda: {"actor": ["policy"], "critic": ["critic"]})
    torch_compile_mode: str | None = None
    """rsl_rl's ``torch.compile`` of the networks: null (off), "default" or "max-autotune-no-cudagraphs". PPO:
    actor and critic; FPO: the critic, the flow's Euler sampler and its CFM loss (README Benchmarks). The first
    iterations pay for the compilation (~10-40 s on a CPU; needs a C++ compiler, g++ or $CXX); checkpoints and
    exports are unchanged."""


COMPILE_MODES = (None, "default", "max-autotune-no-cudagraphs")
"""``train.runner.torch_compile_mode`` values: rsl_rl's, less its CUDA-graph modes (which it refuses)."""

POSITIVE_KEYS = ("runner.num_steps_per_env", "runner.max_iterations", "runner.save_interval", "runner.print_interval",
                 "flow_actor.flow_steps", "flow_actor.num_mc", "flow_actor.time_embed_dim", "gaussian_actor.init_std",
                 "fpo.num_learning_epochs", "fpo.num_mini_batches", "fpo.learning_rate", "fpo.clip_param",
                 "ppo.num_learning_epochs", "ppo.num_mini_batches", "ppo.learning_rate", "ppo.clip_param")
"""``TrainConfig`` keys whose value must be > 0."""


@dataclass
class TrainConfig:
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    """Rollout length, iterations, checkpoints, logging (rsl_rl's OnPolicyRunner)."""
    fpo: FPOConfig = field(default_factory=FPOConfig)
    """FPO's update: objective, ratio, clip, epochs, learning rate, EMA (--algo fpo)."""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """rsl_rl's PPO update (--algo ppo)."""
    flow_actor: FlowActorConfig = field(default_factory=FlowActorConfig)
    """FPO's actor: velocity network, flow steps K, Monte-Carlo samples N (--algo fpo)."""
    gaussian_actor: GaussianActorConfig = field(default_factory=GaussianActorConfig)
    """PPO's Gaussian actor (--algo ppo)."""
    critic: CriticConfig = field(default_factory=CriticConfig)
    """The value network of both."""

    def validate(self) -> None:
        """Raise ConfigError for values of the right type that cannot work (counts < 1, a rate <= 0)."""
        for key in POSITIVE_KEYS:
            section, name = key.split(".")
            value = getattr(getattr(self, section), name)
            if not value > 0:
                raise ConfigError(f"Config key 'train.{key}' must be positive, got {value}.")
        for section in ("flow_actor", "gaussian_actor", "critic"):
            dims = getattr(self, section).hidden_dims
            if not dims or min(dims) < 1:
                raise ConfigError(f"Config key 'train.{section}.hidden_dims' must be a non-empty list of positive "
                                  f"layer widths, got {dims}.")
        dims = self.flow_actor.estimator_hidden_dims
        if dims and min(dims) < 1:
            raise ConfigError(f"Config key 'train.flow_actor.estimator_hidden_dims' must be a list of positive layer "
                              f"widths (empty: no estimator), got {dims}.")
        if self.runner.torch_compile_mode not in COMPILE_MODES:
            raise ConfigError(f"Config key 'train.runner.torch_compile_mode' must be null (off), default or "
                              f"max-autotune-no-cudagraphs, got {self.runner.torch_compile_mode!r}.")

    def to_rsl_rl(self, algo: str) -> dict[str, Any]:
        """The ``train_cfg`` dict for rsl_rl's ``OnPolicyRunner``."""
        if algo not in ALGOS:
            raise ConfigError(f"Unknown algorithm '{algo}'. Valid: {', '.join(ALGOS)}.")
        runner = dataclasses.asdict(self.runner)
        logger = runner.pop("logger")
        if algo == "fpo":
            algorithm = {"class_name": "fpo_locomotion.algorithms.fpo:FPO", **dataclasses.asdict(self.fpo)}
            actor = {"class_name": "fpo_locomotion.models.flow_actor:FlowActor", **dataclasses.asdict(self.flow_actor)}
        else:
            algorithm = {"class_name": "rsl_rl.algorithms:PPO", **dataclasses.asdict(self.ppo)}
            gaussian = dataclasses.asdict(self.gaussian_actor)
            actor = {
                "class_name": "rsl_rl.models:MLPModel",
                **{k: v for k, v in gaussian.items() if k != "init_std"},
                "distribution_cfg": {"class_name": "rsl_rl.modules:GaussianDistribution", "init_std": gaussian["init_std"]},
            }
        if algorithm.pop("symmetry"):
            algorithm["symmetry_cfg"] = {"use_data_augmentation": True,
                                         "data_augmentation_func": "fpo_locomotion.envs.symmetry:mirror_augmentation"}
        critic = {"class_name": "rsl_rl.models:MLPModel", **dataclasses.asdict(self.critic)}
        if logger == "wandb":
            logger = {"class_name": "WandbLogWriter", "project_name": runner["wandb_project"]}
        return {**runner, "logger": logger, "algorithm": algorithm, "actor": actor, "critic": critic}


@dataclass
class TrainArgs:
    """What ``fpo-loco train`` takes; its flags are these fields (``cli.add_dataclass_flags``), help from the
    docstrings."""

    task: str
    """A registered task (G1-Flat, point-mass-joystick, ...; --import registers yours)."""
    algo: str = field(default="fpo", metadata={"choices": ALGOS})
    """The learner: FPO (flow policy) or rsl_rl's PPO (Gaussian policy)."""
    num_envs: int | None = None
    """Parallel envs (default: the task's, 512 for G1-Flat)."""
    max_iterations: int | None = None
    """Training iterations in all (a resumed run counts the ones it did; default: train.runner.max_iterations)."""
    seed: int | None = None
    """Seed of torch, numpy and the env (default: train.runner.seed)."""
    logger: str | None = field(default=None, metadata={"choices": ("tensorboard", "wandb")})
    """Where the statistics go (default: train.runner.logger)."""
    run_name: str = ""
    """Appended to the run folder's name, logs/<task>/<time>_<algo>_<run_name>."""
    resume: str | None = field(default=None, metadata={"metavar": "RUN_DIR|CHECKPOINT|latest"})
    """A run directory or checkpoint to continue, or "latest" for the newest run of the task."""
    device: str = "cpu"
    """Torch device of the learner (cpu, cuda, cuda:0)."""
    config: str | None = field(default=None, metadata={"metavar": "YAML"})
    """YAML file with env: and train: override sections (read with yaml.safe_load)."""
    overrides: tuple[str, ...] = field(default=(), metadata={"flag": "--set", "metavar": "KEY=VALUE"})
    """Override one config value, e.g. --set train.fpo.clip_param=0.1 (repeatable); 'fpo-loco config --task T'
    lists every key with its type, default and meaning."""
    log_root: str = "logs"
    """Folder of the runs."""


@dataclass
class PlayArgs:
    """What ``fpo-loco play`` takes (flags generated as for ``TrainArgs``)."""

    task: str
    """The trained task or its Play variant (G1-Flat or G1-Flat-Play: both play G1-Flat-Play)."""
    checkpoint: str = field(metadata={"metavar": "CHECKPOINT|RUN_DIR|latest|pretrained:NAME"})
    """A model_<it>.pt, a run directory (its newest checkpoint), the newest run of the task, or a shipped policy."""
    commands: str | None = field(default=None, metadata={"metavar": "VX,VY,WZ;..."})
    """Command segments (default: the Play variant's schedule)."""
    duration: float | None = None
    """Seconds per command segment (default 4 with --commands)."""
    video: str | None = field(default=None, metadata={"metavar": "OUT.mp4"})
    """Default <run dir>/play/<checkpoint>.mp4; the plot and summary are written beside it."""
    no_video: bool = False
    """Skip rendering (plot and summary only)."""
    fps: float = 25.0
    """Video frame rate (rendering is the slow part on a CPU)."""
    num_envs: int = 1
    """Robots played at once (the summary averages them; the video shows env 0)."""
    viewer: bool = False
    """MuJoCo's interactive viewer on env 0 (needs a display)."""
    disturbed: bool = False
    """Keep the training run's pushes, randomization and observation noise, at their final level."""
    overrides: tuple[str, ...] = field(default=(), metadata={"flag": "--set", "metavar": "env.KEY=VALUE"})
    """Override one env config value on top, e.g. --set env.events.push.params.max_vel_xy=1.0."""
    seed: int = 0
    """Seed of the play env (with --disturbed: which pushes, randomization and noise): one play is one draw,
    so compare policies on several."""
    log_root: str = "logs"
    """Folder of the runs ("latest" looks there)."""


@dataclass
class ExportArgs:
    """What ``fpo-loco export`` takes (flags generated as for ``TrainArgs``)."""

    checkpoint: str | None = field(default=None, metadata={"positional": True,
                                                           "metavar": "CHECKPOINT|RUN_DIR|latest|pretrained:NAME"})
    """The checkpoint to export: a model_<it>.pt, a run directory, the newest run of --task, or a shipped policy."""
    checkpoint_opt: str | None = field(default=None, metadata={"flag": "--checkpoint", "metavar": "CHECKPOINT"})
    """The same, as play names it."""
    task: str | None = None
    """With 'latest': the task whose newest run to export."""
    out: str | None = field(default=None, metadata={"metavar": "DIR"})
    """Default <run dir>/exported."""
    flow_steps: int | None = None
    """K of the exported sampler (default: the training K)."""
    no_ema: bool = False
    """Export the trained actor instead of its EMA."""
    log_root: str = "logs"
    """Folder of the runs ("latest" looks there)."""


# ---------------------------------------------------------------------------------------------- overrides
def _check_type(value: Any, annotation: Any, key: str) -> Any:
    """Return ``value`` converted to ``annotation`` where that is lossless (int -> float), else raise ConfigError."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            try:
                return _check_type(value, option, key)
            except ConfigError:
                pass
        raise ConfigError(f"Config key '{key}': {value!r} is not of type {annotation}.")
    if annotation is type(None):
        if value is None:
            return None
    elif annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    elif annotation is float and isinstance(value, str) and _is_float(value):  # YAML reads "1e-4" as a string
        return float(value)
    elif annotation is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    elif annotation in (bool, str) and isinstance(value, annotation):
        return value
    elif origin is tuple and len(typing.get_args(annotation)) == 2 and isinstance(value, (list, tuple)):
        return _check_range(value, typing.get_args(annotation), key)
    elif origin in (list, tuple) and isinstance(value, (list, tuple)):
        (item_type, *_) = typing.get_args(annotation) or (Any,)
        return [_check_type(v, item_type, key) for v in value] if item_type is not Any else list(value)
    elif origin is dict and isinstance(value, dict):
        return value
    elif annotation is Any:
        return value
    raise ConfigError(f"Config key '{key}': {value!r} is not of type {getattr(annotation, '__name__', annotation)}.")


def _check_range(value: list | tuple, item_types: tuple, key: str) -> list:
    """A ``tuple[X, X]`` config value: exactly [low, high] with low <= high (returned as a list: YAML-safe)."""
    if len(value) != 2:
        raise ConfigError(f"Config key '{key}': {list(value)!r} is not a [low, high] pair; give two values, "
                          f"e.g. {key}=[0.5, 1.5].")
    low, high = (_check_type(v, t, key) for v, t in zip(value, item_types))
    if low > high:
        raise ConfigError(f"Config key '{key}': low {low} > high {high}; give [low, high].")
    return [low, high]


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def apply_overrides(cfg: Any, overrides: dict[str, Any], prefix: str = "", replace_dicts: bool = False) -> None:
    """Set nested dataclass fields of ``cfg`` in place from a nested dict; unknown keys and wrong types raise.

    A dict field (e.g. ``env.rewards``: name -> term entry) is merged key by key: a new name adds an entry, a
    name set to None removes it; ``replace_dicts`` replaces it instead (a saved config restored as it was).
    """
    hints = typing.get_type_hints(type(cfg))
    for key, value in overrides.items():
        path = f"{prefix}{key}"
        if key not in hints:
            valid = ", ".join(f.name for f in dataclasses.fields(cfg))
            raise ConfigError(f"Unknown config key '{path}'. Valid keys here: {valid}.")
        current = getattr(cfg, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"Config key '{path}' is a section; give a mapping, not {value!r}.")
            apply_overrides(current, value, prefix=f"{path}.", replace_dicts=replace_dicts)
        elif isinstance(current, dict) and isinstance(value, dict):
            setattr(cfg, key, _merged(current, value, hints[key], path, replace_dicts))
        else:
            setattr(cfg, key, _check_type(value, hints[key], path))


def _merged(current: dict, value: dict, annotation: Any, path: str, replace: bool) -> dict:
    """``current`` updated from ``value`` (or ``value`` alone if ``replace``), each item checked against the
    dict's value type; items of a dataclass type are built from their mapping (its required fields first)."""
    item_type = (typing.get_args(annotation) or (str, Any))[1]
    merged = {} if replace else dict(current)
    for name, item in value.items():
        key = f"{path}.{name}"
        if item is None and not replace:
            if name not in merged:
                raise ConfigError(f"Config key '{key}': there is no entry '{name}' to remove. "
                                  f"Entries: {', '.join(merged) or 'none'}.")
            del merged[name]
        elif dataclasses.is_dataclass(item_type) and isinstance(item, item_type):
            merged[name] = copy.deepcopy(item)
        elif dataclasses.is_dataclass(item_type):
            if not isinstance(item, dict):
                raise ConfigError(f"Config key '{key}' is an entry; give a mapping, not {item!r}.")
            entry = copy.deepcopy(merged[name]) if name in merged else _new_entry(item_type, item, key)
            apply_overrides(entry, item, prefix=f"{key}.", replace_dicts=replace)
            merged[name] = entry
        else:
            merged[name] = _check_type(item, item_type, key)
    return merged


def _new_entry(cls: type, item: dict, key: str) -> Any:
    """A ``cls`` entry built from the mapping ``item``, which must give every field of ``cls`` without a default."""
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in item]
    if missing:
        raise ConfigError(f"Config key '{key}' is a new entry: give its {', '.join(missing)} too, "
                          f"e.g. {key}.{missing[0]}=my_module:my_function.")
    return cls(**{name: item[name] for name in required})


def parse_set_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["env.a.b=1", "train.fpo.clip_param=0.1"]`` -> nested dict; values are parsed as YAML scalars/lists."""
    nested: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"Override '{pair}' must look like section.key=value, e.g. train.fpo.clip_param=0.1.")
        dotted, raw = pair.split("=", 1)
        node = nested
        *parents, leaf = dotted.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(raw)
    return nested


def load_yaml(path: str) -> dict[str, Any]:
    """Read a YAML override file with ``safe_load``; it must be a mapping with ``env:`` and/or ``train:`` sections."""
    try:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    except FileNotFoundError:
        raise ConfigError(f"Config file '{path}' does not exist.") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"Config file '{path}' is not valid YAML: {e}") from None
    if not isinstance(data, dict) or not set(data) <= {"env", "train"}:
        raise ConfigError(f"Config file '{path}' must be a mapping with 'env:' and/or 'train:' sections.")
    return data
