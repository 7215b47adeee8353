# Helpers for the rules: config validation, the grid, per-job arguments and resources.
# Rules stay thin (they call the `pps` command line); every decision lives here.

import functools
import re
import shlex
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

from pps import memory as pps_memory
from pps.analysis import outputs as pps_outputs
from pps.config import RUN_KEYS, resolve_config
from pps.envs import registry
from pps.errors import UserError, did_you_mean
from pps.methods import METHODS, get_method


# Keys that name what a run is: the grid decides them, `run:` must not.
GRID_RUN_KEYS = ("env", "map", "method", "seed", "interval")
# `pps train --set threads=...` follows the job's own thread count.
JOB_RUN_KEYS = ("threads",)
NO_INTERVAL = "-"  # the interval folder of methods that never aggregate


def _config_error(message):
    raise WorkflowError(f"Invalid workflow configuration: {message}")


def _check_top_level_keys(cfg, schema):
    """Name an unknown top-level key with a did-you-mean hint before the schema says less."""
    valid = sorted(schema["properties"])
    for key in cfg:
        if key not in valid:
            _config_error(f"unknown key '{key}'.{did_you_mean(key, valid)} Valid keys: {', '.join(valid)}.")


def _check_names(cfg):
    """Maps, methods, backends and run keys, checked against the `pps` package."""
    for method in cfg["methods"]:
        try:
            get_method(method)
        except UserError as err:
            _config_error(str(err))
    if cfg["baseline"] not in cfg["methods"]:
        _config_error(
            f"the baseline '{cfg['baseline']}' is not among the methods "
            f"({', '.join(cfg['methods'])}); add it or pick one of them."
        )
    if "default" not in cfg["envs"]:
        cfg["envs"]["default"] = "smax"
    for name, env in cfg["envs"].items():
        try:
            registry.check_env(env)
        except UserError as err:
            _config_error(f"envs.{name}: {err}")
    for map_name in cfg["maps"]:
        try:
            registry.check_env_map(env_of(map_name), map_name)
        except UserError as err:
            _config_error(str(err))
    for key in cfg["run"]:
        if key in GRID_RUN_KEYS:
            _config_error(
                f"run.{key} is set by the grid, not by `run:`; use the top-level keys "
                "envs, maps, methods, seeds and intervals instead."
            )
        if key in JOB_RUN_KEYS:
            _config_error(f"run.{key} follows the job's threads; set resources.train.threads instead.")
        if key not in RUN_KEYS:
            valid = [k for k in RUN_KEYS if k not in (*GRID_RUN_KEYS, *JOB_RUN_KEYS)]
            _config_error(f"unknown run key '{key}'.{did_you_mean(key, valid)} Valid run keys: {', '.join(valid)}.")
    try:  # types and ranges, exactly as `pps train` will check them
        resolved = resolve_config(cfg["run"])
    except UserError as err:
        _config_error(f"run: {err}")
    # typed values (`--config run=...` arrives as strings), so params compare equal either way
    cfg["run"] = {key: getattr(resolved, key) for key in cfg["run"]}
    if any(get_method(m).aggregates for m in cfg["methods"]) and not cfg["intervals"]:
        _config_error("methods that aggregate need at least one entry in `intervals`.")


def _schema_types(schema):
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    for alternative in schema.get("oneOf", []):
        types += _schema_types(alternative)
    return types


def _coerce_cli_strings(value, schema):
    """Undo `--config`'s string typing where the schema wants numbers or booleans.

    Snakemake reads nested `--config` values (seeds=[0], run='{t_max: 5000}') with YAML's
    BaseLoader, so every item arrives as a string; preset files are typed already.
    """
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else {})
            value[key] = _coerce_cli_strings(item, sub)
        return value
    if isinstance(value, list):
        return [_coerce_cli_strings(item, schema.get("items", {})) for item in value]
    if isinstance(value, str) and {"integer", "number", "boolean"} & set(_schema_types(schema)):
        parsed = yaml.safe_load(value) if value.strip() else value
        return parsed if isinstance(parsed, (int, float, bool)) else value
    return value


def _check_schema(cfg, schema):
    """The first schema violation, led by the key it is about (Snakemake's own message names
    the key only deep inside a dump of the schema)."""
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(cfg))
    if error is None:
        return
    path = list(error.absolute_path)
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    about = schema["properties"].get(path[0], {}).get("description") if path else None
    about = f" About {path[0]}: {' '.join(about.split()).rstrip('.')}." if about else ""
    _config_error(f"{where or 'the configuration'}: {error.message}.{about}")


def validate_config(cfg, schema_path):
    """Stop before any job starts if the configuration is wrong, naming what is valid."""
    schema_path = Path(workflow.basedir, schema_path)
    schema = yaml.safe_load(schema_path.read_text())
    _check_top_level_keys(cfg, schema)
    _coerce_cli_strings(cfg, schema)
    _check_schema(cfg, schema)
    try:
        validate(cfg, str(schema_path))  # also fills in the schema's defaults
    except WorkflowError as err:
        _config_error(str(err).replace("Error validating config file.", "").strip())
    cfg["seeds_per_job"] = int(cfg["seeds_per_job"])  # JSON Schema's integers include 2.0
    _check_names(cfg)


# ---------------------------------------------------------------------------- the grid


def env_of(map_name):
    """The backend a map runs on: its `envs` entry, else `envs.default`."""
    envs = config["envs"]
    return envs.get(map_name, envs.get("default", "smax"))


@functools.cache
def grid_maps():
    """The maps this invocation plans: smac maps only where StarCraft II may be used.

    `use_smac: auto` keeps a smac map only if `pps maps` says it is usable here (the same
    in-process check, which imports neither smac nor StarCraft II).
    """
    maps = list(config["maps"])
    smac = [m for m in maps if env_of(m) == "smac"]
    wanted = config["use_smac"]
    if not smac or wanted is True:
        return tuple(maps)
    if wanted is False:
        return tuple(m for m in maps if env_of(m) != "smac")
    usable = {e.map: e for e in registry.list_maps("smac")}
    dropped = [m for m in smac if not usable[m].usable_here]
    if dropped:
        logger.warning(
            f"Leaving out {', '.join(dropped)}: {usable[dropped[0]].why_not} "
            "(set use_smac: true to plan them anyway)."
        )
    return tuple(m for m in maps if m not in dropped)


def grid():
    """Every training run as a dict of wildcards; baselines once, PPS methods per interval."""
    runs = []
    for map_name in grid_maps():
        for method in config["methods"]:
            intervals = config["intervals"] if get_method(method).aggregates else [NO_INTERVAL]
            for interval in intervals:
                for seed in config["seeds"]:
                    runs.append(
                        dict(env=env_of(map_name), map=map_name, method=method, interval=interval, seed=seed)
                    )
    return runs


def run_dir(env, map, method, interval, seed):
    return f"{RESULTS}/runs/{env}/{map}/{method}/{interval}/seed{seed}"


def run_files(name):
    """One file (metrics.csv) of every run in the grid."""
    return [f"{run_dir(**r)}/{name}" for r in grid()]


def seed_groups():
    """The seeds in config order, in chunks of at most `seeds_per_job`: every cell (env, map,
    method, interval) trains each chunk as one job, one `pps train --seeds` process."""
    seeds, size = list(config["seeds"]), config["seeds_per_job"]
    return [tuple(seeds[i : i + size]) for i in range(0, len(seeds), size)]


def multi_seed_groups():
    """The chunks of two or more seeds; each gets its own rule (train.smk), since a rule's
    outputs (every run's metrics.csv) cannot be computed from a wildcard."""
    return [g for g in seed_groups() if len(g) > 1]


def single_seed_constraint():
    """The `seed` wildcard of the one-run rules: any seed that no multi-seed chunk holds (so
    no path has two rules; seeds outside the grid still have a rule, as before)."""
    grouped = sorted({s for g in multi_seed_groups() for s in g})
    if not grouped:
        return "[0-9]+"
    return "(?!(?:" + "|".join(map(str, grouped)) + r")\b)[0-9]+"


def group_label(seeds):
    """How a group's log and benchmark files are named: seed3 alone, seeds0-1-2 together."""
    return f"seed{seeds[0]}" if len(seeds) == 1 else "seeds" + "-".join(map(str, seeds))


def group_out(wildcards, output):
    """`pps train --seeds`'s --out: the cell folder that holds the runs' seed<S> folders."""
    return Path(output[0]).parent.parent


def group_seeds(wildcards, output):
    """The group's seeds, read back from its outputs (.../seed<S>/metrics.csv). Derived from
    the outputs, so Snakemake records no params of its own for them: regrouping (another
    seeds_per_job) does not by itself mark finished runs for a rerun."""
    return " ".join(Path(f).parent.name.removeprefix("seed") for f in output)


# ---------------------------------------------------------------------------- per job


def _yaml_value(value):
    """A run value as `pps train --set` reads it (YAML): lists inline, booleans lower-case."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(str(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def run_set_args(wildcards=None):
    """`--set KEY=VALUE` for every key of the preset's `run:` section, shell-quoted."""
    return " ".join(
        f"--set {shlex.quote(f'{key}={_yaml_value(value)}')}" for key, value in sorted(config["run"].items())
    )


def n_agents(map_name):
    return registry.map_spec(env_of(map_name), map_name).n_agents


def _run_value(key):
    """A run key's value for every run: the preset's, else the package default."""
    from pps.config import RunConfig

    return config["run"].get(key, getattr(RunConfig, key))


def run_mem_mb(map_name):
    """What one run holds above the process's base: the replay buffer (its real bytes per
    episode, so the episode limit counts: corridor's is 400 steps), one learner batch and
    the checkpoint's transient chunk (pps.memory)."""
    return pps_memory.train_memory_mb(
        env_of(map_name), map_name, buffer_size=_run_value("buffer_size"),
        batch_size=_run_value("batch_size"), compact_buffer=_run_value("compact_buffer"),
        rnn_hidden=_run_value("rnn_hidden"),
    )


def run_minutes(map_name):
    """One run's time limit in minutes: base plus a share that grows with budget and agents."""
    res = config["resources"]["train"]
    steps_m = _run_value("t_max") / 1e6
    return res["runtime"] + res["runtime_per_mstep"] * steps_m * n_agents(map_name) / 3


def train_resources(n_runs=1):
    """mem_mb and runtime of a training job of `n_runs` runs of one cell (one process): the
    base memory once plus every run's own, and n_runs times one run's time (the safe request;
    a group is faster than its runs one after another). A retry (e.g. a job killed at its
    time limit, which then resumes) asks for attempt times as much."""

    def mem_mb(wildcards, attempt):
        return (config["resources"]["train"]["mem_mb"] + n_runs * run_mem_mb(wildcards.map)) * attempt

    def runtime(wildcards, attempt):
        return int(n_runs * run_minutes(wildcards.map) * attempt)

    return {"mem_mb": mem_mb, "runtime": runtime}


def slurm_resources():
    """Site resources (partition, account, ...) from the config; empty values left out."""
    return {k: v for k, v in config["resources"]["slurm"].items() if v not in ("", None)}


# ---------------------------------------------------------------------------- outputs


def _named(paths):
    """{identifier: path} so rules can name each file (results/tables/stats.md -> tables_stats_md)."""
    return {re.sub(r"\W", "_", str(Path(p).relative_to(Path(p).parts[0]))): p for p in paths}


def aggregate_files():
    """`pps aggregate`'s outputs by name: curves, final."""
    return {Path(f).stem: f"{RESULTS}/{f}" for f in pps_outputs.AGGREGATE_FILES}


def stats_files():
    return _named(f"{RESULTS}/{f}" for f in pps_outputs.STATS_FILES)


def figure_files():
    return [f"{FIGURES}/{f}" for f in pps_outputs.figure_files()]


def scaling_planned():
    """Whether this invocation's maps span enough agent counts for the scaling study
    (pps.analysis.outputs.scaling_applies); if not, its outputs are not asked for at all."""
    return pps_outputs.scaling_applies(n_agents(m) for m in grid_maps())


def study_table_files():
    """Tables of the studies: overhead always, scaling when `scaling_planned()`."""
    names = list(pps_outputs.OVERHEAD_FILES) + (list(pps_outputs.SCALING_FILES) if scaling_planned() else [])
    return [f"{RESULTS}/{f}" for f in names]


def study_figure_files():
    """Figures of the studies: overhead always, scaling when `scaling_planned()`."""
    names = [pps_outputs.OVERHEAD_FIGURE] + ([pps_outputs.SCALING_FIGURE] if scaling_planned() else [])
    return [f"{FIGURES}/{f}" for f in pps_outputs.figure_files(tuple(names))]


def parent(name, kind="output"):
    """A param function: the folder of the named input or output file."""

    def folder(wildcards, input, output):
        return Path(getattr(input if kind == "input" else output, name)).parent

    return folder


# ---------------------------------------------------------------------------- report

REPORT_DIR = Path(workflow.basedir) / "workflow" / "report"
_TABLE_CAPTIONS = yaml.safe_load((REPORT_DIR / "tables.yaml").read_text())


def _caption_file(name, text):
    """An RST caption for `report(..., caption=...)`, written under .snakemake/ when changed.

    Snakemake reads captions from files; the text lives with the code that makes the
    output (pps.analysis.outputs for figures, workflow/report/tables.yaml for tables).
    """
    path = Path(".snakemake", "pps-captions", f"{name}.rst").resolve()
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(path)


def figure_report(name, ext):
    """A figure marked for the report: PNGs in 'Figures' with the figure's caption."""
    path = f"{FIGURES}/{name}.{ext}"
    if ext != "png":
        return path
    captions = {**pps_outputs.FIGURE_CAPTIONS, **pps_outputs.STUDY_FIGURE_CAPTIONS}
    caption = captions.get(name, name.replace("_", " "))
    return report(
        path,
        caption=_caption_file(f"figure-{name}", f"{caption}\n"),
        category="Figures",
        labels={"figure": name.replace("_", " ")},
    )


def table_report(path):
    """A results file marked for the report (Markdown tables and summary CSVs)."""
    rel_path = Path(path).relative_to(RESULTS).as_posix()
    text = _TABLE_CAPTIONS.get(rel_path)
    if text is None:  # LaTeX twins of the Markdown tables, and anything unlisted
        return path
    category = "Tables" if rel_path.startswith("tables/") else "Data"
    return report(
        path,
        caption=_caption_file(f"table-{'-'.join(Path(rel_path).parts)}", f"{text.strip()}\n"),
        category=category,
        labels={"file": rel_path},
    )
