"""Typed run configuration: defaults, YAML/CLI loading and validation (docs/design.md §5).

One flat namespace of run keys. Defaults are the authors' values (docs/design.md §3) except where
the suite deliberately deviates (`n_envs`, `groups`, `rs_swap_agent_id`), which `run.json`
records. Every way in (YAML file, `--set KEY=VALUE`, Python) goes through `resolve_config`,
so an unknown key or a bad value is reported the same way everywhere: as a `UserError`
naming what is valid.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from pps.envs import registry

# Run seeds are unsigned 32-bit (below SEED_LIMIT): numpy's SeedSequence rejects negative
# seeds, and every seed derived from one must fit StarCraft II's uint32 game seed.
from pps.envs.seeds import SEED_LIMIT
from pps.errors import UserError, did_you_mean
from pps.methods import get_method

# Keys a preset file may hold besides run keys: the workflow's grid keys. `pps train
# --config PRESET` takes its `run:` section, so one file drives both.
WORKFLOW_KEYS = (
    "envs", "maps", "methods", "intervals", "seeds", "baseline", "thresholds",
    "final_window", "resources", "run", "results_dir", "figures_dir",
)

# The authors' split: input layer and recurrent weights shared, output head (and GRU biases) personal.
DEFAULT_PP_SHARED = ("fc1.weight", "fc1.bias", "rnn.weight_ih", "rnn.weight_hh")
# Every parameter of an agent network (`pps.nets.agents.SlotAgents`, checked by a test), so a
# typo in `pp_shared` is a config error before any env or network is built.
AGENT_PARAMETER_NAMES = (
    "fc1.weight", "fc1.bias", "rnn.weight_ih", "rnn.weight_hh", "rnn.bias_ih", "rnn.bias_hh",
    "fc2.weight", "fc2.bias",
)


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one training run."""

    # what to run
    env: str = "smax"
    map: str = "3m"
    method: str = "qmix"
    seed: int = 0
    interval: int | None = None  # learner updates between aggregations; PPS methods only (default 300)
    groups: str = "unit_type"  # "unit_type" or "all"
    mixer: str | None = None  # "qmix" | "vdn"; default from the method
    # budget and sampling
    t_max: int = 2_000_000
    n_envs: int = 8
    batch_size: int = 96
    buffer_size: int = 5000
    compact_buffer: bool = True  # observations/state as float16, binary data as uint8
    reward_scale: float | None = None  # default per backend: see effective_reward_scale
    # optimisation
    lr: float = 5e-4
    optimizer: str = "adam"  # "adam" | "rmsprop"
    gamma: float = 0.99
    grad_clip: float = 10.0
    epsilon_start: float = 1.0
    epsilon_finish: float = 0.05
    epsilon_anneal_steps: int = 50_000
    target_update_interval: int = 200
    double_q: bool = True
    td_lambda: float = 0.0
    # sizes
    rnn_hidden: int = 64
    mixer_embed: int = 32
    hypernet_hidden: int = 64
    hypernet_layers: int = 1
    # evaluation
    eval_interval: int = 5000
    eval_episodes: int = 32
    # greedy episodes of the trained policy when the run finishes (the "absolute metric" of
    # Gorsane et al. 2022 that marl-eval reads): None = 10 x eval_episodes, 0 = none
    absolute_eval_episodes: int | None = None
    # PPS
    # RS-PPS softmax temperature, on the task's normalised score (pps.rs_scores: 0 = floor,
    # 1 = solved), so it means the same on every backend; 0.05 is softmax of SMAC returns.
    rs_temperature: float = 0.5
    rs_eval_episodes: int = 10
    # The agent id network i sees while it plays every seat of the RS-PPS swap evaluation:
    # "own" (i's, the only id a per-agent network is trained on) or "agent" (the seat's, as
    # the authors' code does).
    rs_swap_agent_id: str = "own"
    pp_shared: tuple[str, ...] = DEFAULT_PP_SHARED
    opt_state_on_aggregate: str = "keep"  # "keep" | "average" | "reset"
    # infrastructure
    checkpoint_interval: int = 50_000
    device: str = "cpu"
    threads: int = 1
    # "fp32" | "bf16": the learner's large matmuls in bfloat16 (pps.learner.Learner.loss), a
    # deviation; it can pay only where the CPU multiplies bfloat16 natively (AVX512-BF16, AMX):
    # on an AVX2-only CPU torch emulates it and a learner update took 3.5x as long
    matmul_precision: str = "fp32"

    @property
    def effective_interval(self) -> int | None:
        """The aggregation interval in force, or None for methods that never aggregate."""
        if not get_method(self.method).aggregates:
            return None
        return 300 if self.interval is None else self.interval

    @property
    def effective_reward_scale(self) -> float:
        """SMAX pays at most about 2 per episode (damage <= 1 plus a win bonus of 1) where SMAC
        scales to 20; QMIX's authors' learning rate and targets were tuned on SMAC's scale, so
        SMAX rewards are multiplied by 10 unless `reward_scale` says otherwise (measured on 3m:
        40k steps reach a 72% test win rate at x10 and 12% at x1)."""
        if self.reward_scale is not None:
            return self.reward_scale
        return SMAX_REWARD_SCALE if self.env == "smax" else 1.0

    @property
    def effective_absolute_eval_episodes(self) -> int:
        """Episodes of the final evaluation of the trained policy: the key, or ten times a
        test evaluation's (marl-eval's protocol asks for at least ten times as many)."""
        if self.absolute_eval_episodes is None:
            return ABSOLUTE_EVAL_FACTOR * self.eval_episodes
        return self.absolute_eval_episodes

    @property
    def effective_mixer(self) -> str:
        return self.mixer or get_method(self.method).default_mixer

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["pp_shared"] = list(self.pp_shared)
        return d


def inert_keys(c: RunConfig) -> frozenset[str]:
    """Run keys whose value cannot change this run (RS-PPS's keys for any other method, an
    aggregation policy for a method that never aggregates): a folder trained before such a
    key existed, or with another value of it, still holds this very run and may resume."""
    method = get_method(c.method)
    keys: set[str] = set()
    if method.aggregation != "reward_weighted":
        keys |= {"rs_temperature", "rs_eval_episodes", "rs_swap_agent_id"}
    if method.aggregation != "partial_mean":
        keys.add("pp_shared")
    if not method.aggregates:
        keys |= {"opt_state_on_aggregate", "groups"}
    return frozenset(keys)


# Keys added after run folders existed whose default is what every run before them did: a
# run.json without one holds a run with that value, and resumes (`pps.run_folder.check_same_run`).
KEYS_ADDED_WITH_OLD_BEHAVIOUR: dict[str, Any] = {"matmul_precision": "fp32"}

SMAX_REWARD_SCALE = 10.0
ABSOLUTE_EVAL_FACTOR = 10  # absolute evaluation episodes per test evaluation episode, by default

RUN_KEYS: tuple[str, ...] = tuple(f.name for f in fields(RunConfig))
_FIELD_TYPES = {f.name: f.type for f in fields(RunConfig)}

_CHOICES: dict[str, tuple[str, ...]] = {
    "groups": ("unit_type", "all"),
    "mixer": ("qmix", "vdn"),
    "optimizer": ("adam", "rmsprop"),
    "opt_state_on_aggregate": ("keep", "average", "reset"),
    "rs_swap_agent_id": ("own", "agent"),
    "device": ("cpu", "cuda"),
    "matmul_precision": ("fp32", "bf16"),
}
_POSITIVE_INT = (
    "t_max", "n_envs", "batch_size", "buffer_size", "epsilon_anneal_steps", "target_update_interval",
    "rnn_hidden", "mixer_embed", "hypernet_hidden", "hypernet_layers", "eval_interval",
    "eval_episodes", "rs_eval_episodes", "checkpoint_interval", "threads",
)
_FLOAT_KEYS = tuple(k for k, kind in _FIELD_TYPES.items() if str(kind).startswith("float"))
HYPERNET_LAYERS = (1, 2)  # pps.nets.mixers builds a one- or two-layer hypernetwork


def _coerce(key: str, value: Any) -> Any:
    """Turn a YAML/CLI value into the field's type, or raise a UserError saying why not."""
    kind = str(_FIELD_TYPES[key])
    if value is None:
        if "None" in kind:
            return None
        raise UserError(f"Config key '{key}' needs a value, got nothing.")
    try:
        if key == "pp_shared":
            if isinstance(value, str):
                value = [v.strip() for v in value.strip("[]").split(",") if v.strip()]
            return tuple(str(v) for v in value)
        if kind.startswith("bool"):
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if kind.startswith("int"):
            if isinstance(value, bool):
                raise ValueError
            number = _number(value) if isinstance(value, str) else value
            if isinstance(number, float) and (not math.isfinite(number) or number != int(number)):
                raise ValueError
            return int(number)
        if kind.startswith("float"):
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind.startswith("str"):
            return str(value)
    except (TypeError, ValueError):
        pass
    else:
        return value
    raise UserError(f"Config key '{key}' must be of type {kind.replace(' | None', '')}, got {value!r}.")


def _number(text: str) -> int | float:
    """An int when the text is one (exact, however large), else a float ('1e5' -> 100000.0)."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def parse_set_items(items: list[str] | None) -> dict[str, Any]:
    """Parse `--set KEY=VALUE` items; the value is read as YAML (so 1e5, true, [a, b] work)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"--set expects KEY=VALUE, got '{item}'. Example: --set lr=0.001")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            out[key.strip()] = raw
    return out


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Run keys from a YAML file: either flat run keys or a workflow preset's `run:` section."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"Config file '{path}' is a folder; give a YAML file of run keys or a workflow preset.")
    if not path.is_file():
        raise UserError(f"Config file '{path}' does not exist.")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise UserError(f"Config file '{path}' is not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict):
        raise UserError(f"Config file '{path}' must hold a mapping of keys to values.")
    if any(k in WORKFLOW_KEYS for k in data):
        return dict(data.get("run") or {})
    return data


def check_keys(values: Mapping[str, Any], source: str = "config") -> None:
    for key in values:
        if key not in RUN_KEYS:
            raise UserError(
                f"Unknown {source} key '{key}'.{did_you_mean(key, RUN_KEYS)} "
                f"Valid keys: {', '.join(RUN_KEYS)}."
            )


def resolve_config(*layers: Mapping[str, Any]) -> RunConfig:
    """Merge layers of run keys (later wins) onto the defaults and validate the result."""
    merged: dict[str, Any] = {}
    for layer in layers:
        check_keys(layer)
        for key, value in layer.items():
            merged[key] = _coerce(key, value)
    config = RunConfig(**merged)
    validate(config)
    return config


def _range_error(key: str, valid: str, value: Any) -> UserError:
    return UserError(f"Config key '{key}' must be {valid}, got {value!r}.")


def validate(c: RunConfig) -> None:
    """Check values that a type alone does not pin down; registry names are checked here too.

    Every key is checked here, before any env, network or seed stream is built, so a bad
    value is one line naming the key and its valid range (exit code 2 from the CLI) rather
    than a traceback from numpy, torch or jax halfway through start-up.
    """
    method = get_method(c.method)
    registry.check_env_map(c.env, c.map)
    for key, valid in _CHOICES.items():
        value = getattr(c, key)
        if value is not None and value not in valid:
            raise UserError(f"Config key '{key}' must be one of {', '.join(valid)}, got {value!r}."
                            f"{did_you_mean(value, valid)}")
    if not 0 <= c.seed < SEED_LIMIT:
        raise _range_error("seed", f"an integer from 0 to {SEED_LIMIT - 1} (2**32 - 1)", c.seed)
    for key in _POSITIVE_INT:
        if getattr(c, key) <= 0:
            raise _range_error(key, "a positive integer", getattr(c, key))
    if c.interval is not None:
        if not method.aggregates:
            raise UserError(
                f"Method '{c.method}' never aggregates, so it takes no interval (got {c.interval}). "
                f"Leave --interval out, or pick an aggregating method: a-pps, rs-pps, pp-pps."
            )
        if c.interval <= 0:
            raise _range_error("interval", "a positive integer (learner updates between aggregations)", c.interval)
    for key in _FLOAT_KEYS:
        value = getattr(c, key)
        if value is not None and not math.isfinite(value):
            raise _range_error(key, "a finite number", value)
    for key in ("lr", "grad_clip", "rs_temperature"):
        if getattr(c, key) <= 0:
            raise _range_error(key, "positive", getattr(c, key))
    if c.absolute_eval_episodes is not None and c.absolute_eval_episodes < 0:
        raise _range_error("absolute_eval_episodes", "0 (none), a positive integer, or null (10 x eval_episodes)",
                           c.absolute_eval_episodes)
    if c.reward_scale is not None and c.reward_scale <= 0:
        raise _range_error("reward_scale", "positive (or null for the backend's default)", c.reward_scale)
    if not 0.0 < c.gamma <= 1.0:
        raise _range_error("gamma", "in (0, 1]", c.gamma)
    if not 0.0 <= c.td_lambda <= 1.0:
        raise _range_error("td_lambda", "in [0, 1] (0 = one-step targets)", c.td_lambda)
    if not 0.0 <= c.epsilon_start <= 1.0:
        raise _range_error("epsilon_start", "in [0, 1]", c.epsilon_start)
    if not 0.0 <= c.epsilon_finish <= c.epsilon_start:
        raise _range_error("epsilon_finish", f"in [0, epsilon_start = {c.epsilon_start}]", c.epsilon_finish)
    if c.hypernet_layers not in HYPERNET_LAYERS:
        raise _range_error("hypernet_layers", " or ".join(map(str, HYPERNET_LAYERS)), c.hypernet_layers)
    if c.batch_size > c.buffer_size:
        raise UserError(f"batch_size ({c.batch_size}) cannot exceed buffer_size ({c.buffer_size}).")
    unknown = [name for name in c.pp_shared if name not in AGENT_PARAMETER_NAMES]
    if unknown:
        raise UserError(
            f"Config key 'pp_shared' names {', '.join(repr(n) for n in unknown)}, not an agent parameter."
            f"{did_you_mean(unknown[0], AGENT_PARAMETER_NAMES)} Valid names: {', '.join(AGENT_PARAMETER_NAMES)}."
        )
    if c.method == "pp-pps" and not c.pp_shared:
        raise UserError("pp-pps needs at least one shared parameter name in pp_shared.")
