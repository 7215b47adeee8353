"""The workflow's plan: which runs a preset asks for, how they are grouped into jobs, and the
arguments and files of every job.

The Snakemake workflow (`Snakefile`, `workflow/rules/*.smk`) is glue around this module:
every decision it makes lives here, as plain functions of the config dict, so that they are
tested without building a DAG. Mistakes in a preset or a `--config` override raise
`UserError` with a message that names what is valid; the workflow turns it into Snakemake's
own error before any job starts.

Import-light on purpose: Snakemake imports it on every invocation, even `snakemake -n`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from pps import run_folder
from pps.analysis import outputs
from pps.config import RUN_KEYS, resolve_config
from pps.envs import registry
from pps.errors import UserError, did_you_mean
from pps.methods import METHODS, get_method

# Keys that name what a run is: the grid decides them, `run:` must not.
GRID_RUN_KEYS = ("env", "map", "method", "seed", "interval")
# `pps train --set threads=...` follows the job's own thread count.
JOB_RUN_KEYS = ("threads",)
DEFAULT_ENV = "smax"
# The report's captions: one static file per output, mirroring results/ and figures/.
CAPTIONS_DIR = Path(__file__).resolve().parents[1] / "workflow" / "report" / "captions"
# The one schema of every preset (the workflow reads it from the same place).
SCHEMA_FILE = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"

Config = dict[str, Any]


# ---------------------------------------------------------------------------- config checks


def load_preset(path: str | Path, schema_file: str | Path = SCHEMA_FILE) -> Config:
    """A preset file, checked and filled in as the workflow checks it (`check_config`), for a
    command that reads a preset outside Snakemake (`pps evidence`)."""
    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text())
    except OSError as err:
        raise UserError(f"cannot read the preset '{path}': {err.strerror or err}. Presets are in "
                        f"workflow/config/ (e.g. workflow/config/default.yaml).") from None
    except yaml.YAMLError as err:
        raise UserError(f"the preset '{path}' is not valid YAML ({' '.join(str(err).split())}).") from None
    if not isinstance(cfg, dict):
        raise UserError(f"the preset '{path}' does not hold a mapping of workflow keys (workflow/config/*.yaml do).")
    try:
        check_config(cfg, yaml.safe_load(Path(schema_file).read_text()))
    except UserError as err:
        raise UserError(f"{path}: {err}") from None
    return cfg


def check_config(cfg: Config, schema: Mapping[str, Any]) -> None:
    """Check a preset (after `--config` overrides) before any job starts, in place.

    Undoes `--config`'s string typing, fills in the schema's defaults and types the `run:`
    values as `pps train` reads them. Raises UserError naming the first problem and what is
    valid instead.
    """
    check_top_level_keys(cfg, schema)
    coerce_cli_strings(cfg, schema)
    check_schema(cfg, schema)
    fill_defaults(cfg, schema)
    cfg["seeds_per_job"] = int(cfg["seeds_per_job"])  # JSON Schema's integers include 2.0
    check_names(cfg)


def check_top_level_keys(cfg: Mapping[str, Any], schema: Mapping[str, Any]) -> None:
    """Name an unknown top-level key with a did-you-mean hint before the schema says less."""
    valid = sorted(schema["properties"])
    for key in cfg:
        if key not in valid:
            raise UserError(f"unknown key '{key}'.{did_you_mean(key, valid)} Valid keys: {', '.join(valid)}.")


def _schema_types(schema: Mapping[str, Any]) -> list[str]:
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    for alternative in schema.get("oneOf", []):
        types += _schema_types(alternative)
    return types


def coerce_cli_strings(value: Any, schema: Mapping[str, Any]) -> Any:
    """Undo `--config`'s string typing where the schema wants numbers or booleans.

    Snakemake reads nested `--config` values (seeds=[0], run='{t_max: 5000}') with YAML's
    BaseLoader, so every item arrives as a string; preset files are typed already. Dicts
    are changed in place (the workflow's `config` is one shared object).
    """
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else {})
            value[key] = coerce_cli_strings(item, sub)
        return value
    if isinstance(value, list):
        return [coerce_cli_strings(item, schema.get("items", {})) for item in value]
    if isinstance(value, str) and {"integer", "number", "boolean"} & set(_schema_types(schema)):
        parsed = yaml.safe_load(value) if value.strip() else value
        return parsed if isinstance(parsed, (int, float, bool)) else value
    return value


def check_schema(cfg: Mapping[str, Any], schema: Mapping[str, Any]) -> None:
    """The first schema violation, led by the key it is about (a plain validator's message
    names the key only deep inside a dump of the schema)."""
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(cfg))
    if error is None:
        return
    path = list(error.absolute_path)
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    about = schema["properties"].get(path[0], {}).get("description") if path else None
    about = f" About {path[0]}: {' '.join(about.split()).rstrip('.')}." if about else ""
    raise UserError(f"{where or 'the configuration'}: {error.message}.{about}")


def _with_defaults(validator_class: type) -> type:
    """A validator that fills in every missing property's `default` as it goes (the recipe of
    jsonschema's FAQ, the one Snakemake's `validate` uses), so nested defaults apply too."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        for name, subschema in properties.items():
            if "default" in subschema and isinstance(instance, dict):
                instance.setdefault(name, subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def fill_defaults(cfg: Config, schema: Mapping[str, Any]) -> None:
    """Fill in the schema's defaults, in place (the config passed `check_schema` already)."""
    error = jsonschema.exceptions.best_match(_with_defaults(jsonschema.Draft202012Validator)(schema).iter_errors(cfg))
    if error is not None:
        raise UserError(f"{error.message}.")


def check_names(cfg: Config) -> None:
    """Maps, methods, backends and run keys, checked against the `pps` package; types the
    `run:` values in place (`--config run=...` arrives as strings), so a job's arguments are
    the same whichever way a value was given."""
    for method in cfg["methods"]:
        get_method(method)
    if cfg["baseline"] not in cfg["methods"]:
        raise UserError(
            f"the baseline '{cfg['baseline']}' is not among the methods "
            f"({', '.join(cfg['methods'])}); add it or pick one of them."
        )
    cfg["envs"].setdefault("default", DEFAULT_ENV)
    for name, env in cfg["envs"].items():
        try:
            registry.check_env(env)
        except UserError as err:
            raise UserError(f"envs.{name}: {err}") from None
    for map_name in cfg["maps"]:
        registry.check_env_map(env_of(cfg, map_name), map_name)
    for key in cfg["run"]:
        check_run_key(key)
    try:  # types and ranges, exactly as `pps train` will check them
        resolved = resolve_config(cfg["run"])
    except UserError as err:
        raise UserError(f"run: {err}") from None
    cfg["run"] = {key: getattr(resolved, key) for key in cfg["run"]}
    if any(get_method(m).aggregates for m in cfg["methods"]) and not cfg["intervals"]:
        raise UserError("methods that aggregate need at least one entry in `intervals`.")


def check_run_key(key: str) -> None:
    """A key of `run:` must be a run key that the grid or the job does not set itself."""
    if key in GRID_RUN_KEYS:
        raise UserError(
            f"run.{key} is set by the grid, not by `run:`; use the top-level keys "
            "envs, maps, methods, seeds and intervals instead."
        )
    if key in JOB_RUN_KEYS:
        raise UserError(f"run.{key} follows the job's threads; set resources.train.threads instead.")
    if key not in RUN_KEYS:
        valid = [k for k in RUN_KEYS if k not in (*GRID_RUN_KEYS, *JOB_RUN_KEYS)]
        raise UserError(f"unknown run key '{key}'.{did_you_mean(key, valid)} Valid run keys: {', '.join(valid)}.")


# ---------------------------------------------------------------------------- the grid


def results_dir(cfg: Mapping[str, Any]) -> str:
    return cfg["results_dir"].rstrip("/")


def figures_dir(cfg: Mapping[str, Any]) -> str:
    return cfg["figures_dir"].rstrip("/")


def wildcard_constraints() -> dict[str, str]:
    """The patterns every rule's wildcards keep to: a known backend, a plain map name, a seed."""
    return {"env": "|".join(registry.ENV_NAMES), "map": "[A-Za-z0-9_]+", "seed": "[0-9]+"}


def env_of(cfg: Mapping[str, Any], map_name: str) -> str:
    """The backend a map runs on: its `envs` entry, else `envs.default`."""
    envs = cfg["envs"]
    return envs.get(map_name, envs.get("default", DEFAULT_ENV))


def n_agents(cfg: Mapping[str, Any], map_name: str) -> int:
    return registry.map_spec(env_of(cfg, map_name), map_name).n_agents


def grid_maps(cfg: Mapping[str, Any]) -> tuple[tuple[str, ...], str | None]:
    """The maps this invocation plans, and a warning naming those left out (or None).

    smac maps are planned only where StarCraft II may be used: `use_smac: auto` keeps a smac
    map only if `pps maps` says it is usable here (the same in-process check, which imports
    neither smac nor StarCraft II).
    """
    maps = list(cfg["maps"])
    smac = [m for m in maps if env_of(cfg, m) == "smac"]
    wanted = cfg["use_smac"]
    if not smac or wanted is True:
        return tuple(maps), None
    if wanted is False:
        return tuple(m for m in maps if env_of(cfg, m) != "smac"), None
    usable = {e.map: e for e in registry.list_maps("smac")}
    dropped = [m for m in smac if not usable[m].usable_here]
    if not dropped:
        return tuple(maps), None
    warning = (f"Leaving out {', '.join(dropped)}: {usable[dropped[0]].why_not} "
               "(set use_smac: true to plan them anyway).")
    return tuple(m for m in maps if m not in dropped), warning


def grid(cfg: Mapping[str, Any], maps: Iterable[str]) -> list[dict[str, Any]]:
    """Every training run as a dict of wildcards; baselines once, PPS methods per interval."""
    runs = []
    for map_name in maps:
        for method in cfg["methods"]:
            intervals = cfg["intervals"] if get_method(method).aggregates else [run_folder.NO_INTERVAL]
            for interval in intervals:
                for seed in cfg["seeds"]:
                    runs.append(dict(env=env_of(cfg, map_name), map=map_name, method=method, interval=interval,
                                     seed=seed))
    return runs


def run_files(cfg: Mapping[str, Any], maps: Iterable[str], name: str = run_folder.METRICS) -> list[str]:
    """One file (metrics.csv) of every run in the grid."""
    return [str(run_folder.run_dir(results_dir(cfg), r["env"], r["map"], r["method"], r["interval"], r["seed"]) / name)
            for r in grid(cfg, maps)]


# ---------------------------------------------------------------------------- seed groups


def seed_groups(cfg: Mapping[str, Any]) -> list[tuple[int, ...]]:
    """The seeds in config order, in chunks of at most `seeds_per_job`: every cell (env, map,
    method, interval) trains each chunk as one job, one `pps train --seeds` process."""
    seeds, size = list(cfg["seeds"]), cfg["seeds_per_job"]
    return [tuple(seeds[i : i + size]) for i in range(0, len(seeds), size)]


def multi_seed_groups(cfg: Mapping[str, Any]) -> list[tuple[int, ...]]:
    """The chunks of two or more seeds; each gets its own rule, since a rule's outputs (every
    run's metrics.csv) cannot be computed from a wildcard."""
    return [g for g in seed_groups(cfg) if len(g) > 1]


def single_seed_constraint(cfg: Mapping[str, Any]) -> str:
    """The `seed` wildcard of the one-run rules: any seed that no multi-seed chunk holds (so
    no path has two rules; seeds outside the grid still have a rule)."""
    grouped = sorted({s for g in multi_seed_groups(cfg) for s in g})
    if not grouped:
        return "[0-9]+"
    return "(?!(?:" + "|".join(map(str, grouped)) + r")\b)[0-9]+"


def group_label(seeds: Sequence[int]) -> str:
    """How a group's log and benchmark files are named: seed3 alone, seeds0-1-2 together."""
    return f"seed{seeds[0]}" if len(seeds) == 1 else "seeds" + "-".join(map(str, seeds))


def _methods_pattern(aggregating: bool) -> str:
    return "|".join(m for m in METHODS if METHODS[m].aggregates == aggregating)


@dataclass(frozen=True)
class TrainRule:
    """One training rule: the methods that never aggregate (under <method>/-/) or those that
    do (under <method>/<K>/), for any one seed (`seeds` None: a `seed` wildcard) or for one
    chunk of seeds trained together. Two kinds, so that a path names one run only; one rule
    per chunk, since a rule's outputs cannot be computed from a wildcard."""

    aggregating: bool
    seeds: tuple[int, ...] | None = None

    @property
    def name(self) -> str:
        base = "train_pps" if self.aggregating else "train"
        return base if self.seeds is None else f"{base}_seeds_{'_'.join(map(str, self.seeds))}"

    @property
    def n_runs(self) -> int:
        return 1 if self.seeds is None else len(self.seeds)

    def _interval(self) -> str | None:
        return "{interval}" if self.aggregating else None

    def outputs(self, results: str) -> list[str]:
        """Every run's metrics.csv, as a pattern over env, map, method (and interval, seed)."""
        seeds = ["{seed}"] if self.seeds is None else self.seeds
        return [str(run_folder.run_dir(results, "{env}", "{map}", "{method}", self._interval(), s) / run_folder.METRICS)
                for s in seeds]

    def log_stem(self, results: str) -> str:
        """The job's log and benchmark files without their suffix (.log, .benchmark.tsv):
        <results>/logs/train/<env>/<map>/<method>/<interval or ->/seed<S> or seeds<S1-S2-...>."""
        label = run_folder.seed_folder("{seed}") if self.seeds is None else group_label(self.seeds)
        cell = ("{env}", "{map}", "{method}", run_folder.interval_folder(self._interval()))
        return "/".join((results, "logs", "train", *cell, label))

    def constraints(self, cfg: Mapping[str, Any]) -> dict[str, str]:
        """The rule's own wildcard patterns: its methods, a K without leading zeros, and for the
        one-run rule the seeds that no chunk of several holds."""
        found = {"method": _methods_pattern(self.aggregating)}
        if self.aggregating:
            found["interval"] = "[1-9][0-9]*"
        if self.seeds is None:
            found["seed"] = single_seed_constraint(cfg)
        return found


def train_rules(cfg: Mapping[str, Any]) -> list[TrainRule]:
    """Every training rule of this preset: one run of any seed, then one per chunk of seeds."""
    rules = [TrainRule(False), TrainRule(True)]
    for group in multi_seed_groups(cfg):
        rules += [TrainRule(False, group), TrainRule(True, group)]
    return rules


# ---------------------------------------------------------------------------- job arguments


def _yaml_value(value: Any) -> str:
    """A run value as `pps train --set` reads it (YAML): lists inline, booleans lower-case."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(str(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def run_set_args(cfg: Mapping[str, Any]) -> str:
    """`--set KEY=VALUE` for every key of the preset's `run:` section, shell-quoted."""
    return " ".join(
        f"--set {shlex.quote(f'{key}={_yaml_value(value)}')}" for key, value in sorted(cfg["run"].items())
    )


def train_args(output: Sequence[str]) -> str:
    """A training job's `pps train` arguments after --method, read back from its outputs
    (.../<interval or ->/seed<S>/metrics.csv): `[--interval K] --seed S --out RUN` for one run,
    `[--interval K] --seeds S1 S2 ... --out CELL` for a chunk, whose --out holds its seed<S>
    folders. Derived from the outputs, so Snakemake records no params of its own for them:
    regrouping (another seeds_per_job) does not by itself mark finished runs for a rerun."""
    runs = [Path(f).parent for f in output]
    interval = runs[0].parent.name
    seeds = [r.name.removeprefix(run_folder.SEED_PREFIX) for r in runs]
    words = [] if interval == run_folder.NO_INTERVAL else ["--interval", interval]
    if len(runs) == 1:
        words += ["--seed", seeds[0], "--out", str(runs[0])]
    else:
        words += ["--seeds", *seeds, "--out", str(runs[0].parent)]
    return " ".join(words)


# ---------------------------------------------------------------------------- analysis options
# Which preset keys become which option of the analysis commands; every option not named here
# is the command's own default. The rules (workflow/rules/analysis.smk) and `pps evidence`,
# which records the options a reference set's tables were made with, both read them here.


def collect_args(cfg: Mapping[str, Any]) -> list[str]:
    """`pps collect`'s options after --runs and --out: `--final-window` (`final_window`)."""
    return ["--final-window", str(cfg["final_window"])]


def stats_args(cfg: Mapping[str, Any]) -> list[str]:
    """`pps stats`'s options after --results: `--baseline` and `--thresholds`."""
    return ["--baseline", str(cfg["baseline"]), "--thresholds", *(str(t) for t in cfg["thresholds"])]


def figure_args(cfg: Mapping[str, Any]) -> list[str]:
    """The figure commands' options (plot, overhead, scaling): `--annotate` for drafts (`figures_annotate`)."""
    return ["--annotate"] if cfg.get("figures_annotate") else []


def shell_flags(words: Sequence[str]) -> str:
    """Options as one shell-quoted string for a rule's `shell:` line."""
    return " ".join(shlex.quote(w) for w in words)


def figure_flags(cfg: Mapping[str, Any]) -> str:
    """`figure_args` for a rule's `shell:` line."""
    return shell_flags(figure_args(cfg))


# ---------------------------------------------------------------------------- outputs


def _named(paths: Iterable[str]) -> dict[str, str]:
    """{identifier: path} so rules can name each file (results/tables/stats.md -> tables_stats_md)."""
    return {re.sub(r"\W", "_", str(Path(p).relative_to(Path(p).parts[0]))): p for p in paths}


def collect_files(cfg: Mapping[str, Any]) -> dict[str, str]:
    """`pps collect`'s outputs by name: curves, final."""
    return {Path(f).stem: f"{results_dir(cfg)}/{f}" for f in outputs.COLLECT_FILES}


def stats_files(cfg: Mapping[str, Any]) -> dict[str, str]:
    """`pps stats`'s outputs by name (stats, across_maps, ..., tables_stats_md, ...)."""
    return _named(f"{results_dir(cfg)}/{f}" for f in outputs.STATS_FILES)


def export_files(cfg: Mapping[str, Any]) -> dict[str, str]:
    """`pps export`'s outputs by format, named for rules (marl-eval -> marl_eval)."""
    return {fmt.replace("-", "_"): f"{results_dir(cfg)}/{name}" for fmt, name in outputs.EXPORT_FILES.items()}


def figure_files(cfg: Mapping[str, Any]) -> list[str]:
    return [f"{figures_dir(cfg)}/{f}" for f in outputs.figure_files()]


def scaling_planned(cfg: Mapping[str, Any], maps: Iterable[str]) -> bool:
    """Whether these maps span enough agent counts for the scaling study
    (pps.analysis.outputs.scaling_applies); if not, its outputs are not asked for at all."""
    return outputs.scaling_applies(n_agents(cfg, m) for m in maps)


def study_table_files(cfg: Mapping[str, Any], maps: Iterable[str]) -> list[str]:
    """Tables of the studies: overhead always, scaling when `scaling_planned`."""
    names = list(outputs.OVERHEAD_FILES) + (list(outputs.SCALING_FILES) if scaling_planned(cfg, maps) else [])
    return [f"{results_dir(cfg)}/{f}" for f in names]


def study_figure_files(cfg: Mapping[str, Any], maps: Iterable[str]) -> list[str]:
    """Figures of the studies: overhead always, scaling when `scaling_planned`."""
    names = [outputs.OVERHEAD_FIGURE] + ([outputs.SCALING_FIGURE] if scaling_planned(cfg, maps) else [])
    return [f"{figures_dir(cfg)}/{f}" for f in outputs.figure_files(tuple(names))]


# ---------------------------------------------------------------------------- captions

ALL_FIGURES: tuple[str, ...] = (*outputs.FIGURE_NAMES, outputs.OVERHEAD_FIGURE, outputs.SCALING_FIGURE)


def figure_caption_file(name: str, captions_dir: Path = CAPTIONS_DIR) -> Path:
    """The report caption of figure `name` (its PNG; the PDF is the same figure)."""
    return captions_dir / "figures" / f"{name}.rst"


def table_caption_file(rel_path: str, captions_dir: Path = CAPTIONS_DIR) -> Path | None:
    """The report caption of a results file (path under results/), or None for files the
    report leaves out (curves.csv, the LaTeX twins of the Markdown tables)."""
    path = captions_dir / "results" / f"{rel_path}.rst"
    return path if path.is_file() else None


def figure_captions(names: Iterable[str] = ALL_FIGURES, captions_dir: Path = CAPTIONS_DIR) -> dict[str, str]:
    """{figure: caption as one line of text} for every figure in `names` that has a caption."""
    files = {name: figure_caption_file(name, captions_dir) for name in names}
    return {name: " ".join(path.read_text().split()) for name, path in files.items() if path.is_file()}
