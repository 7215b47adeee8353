"""Finding run folders and deciding which runs count (the input contract of docs/design.md §4).

A run folder is `<runs>/<env>/<map>/<method>/<interval or ->/seed<k>/`. A run is **complete**
iff its `metrics.csv` exists (not only `metrics.csv.partial`) and `run.json` says
`"status": "finished"`. Everything else is *excluded*: reported one line per folder, naming
the folder and why, and left out of every table.

A complete-looking run whose files break the contract (run.json unreadable or naming a
different run than its folder, metrics.csv with the wrong columns, non-numeric or unsorted
steps) is *invalid*: that is a bug or a mixed-up results tree rather than a run still in
progress, so by default it is an error (a `UserError` listing every such file) instead of a
silently smaller sample; `skip_invalid=True` reports and excludes it like an incomplete run.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pps.errors import UserError
from pps.methods import METHODS
from pps.run_folder import METRICS, PARTIAL, RUN_FILES, RUN_JSON, run_parts
from pps.run_folder import METRICS_COLUMNS as METRIC_COLUMNS

SUPPORTED_SCHEMAS = (1,)
_SEED_DIR = re.compile(r"^seed(\d+)$")


@dataclass
class Run:
    env: str
    map: str
    method: str
    interval: int | None
    seed: int
    path: Path
    info: dict[str, Any]
    metrics: pd.DataFrame

    @property
    def key(self) -> tuple:
        return (self.env, self.map, self.method, self.interval, self.seed)


@dataclass
class Problem:
    path: Path  # the folder (or file) at fault
    reason: str

    def line(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Scan:
    root: Path
    runs: list[Run] = field(default_factory=list)
    excluded: list[Problem] = field(default_factory=list)  # incomplete: reported, left out
    invalid: list[Problem] = field(default_factory=list)  # broken contract: error unless skipped


def _run_folders(root: Path) -> list[Path]:
    """Every folder that looks like a run: holds a run file or is named seed<k>."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if _SEED_DIR.match(os.path.basename(dirpath)) or any(f in RUN_FILES for f in filenames):
            found.append(Path(dirpath))
            dirnames[:] = []  # a run folder holds no runs
    return found


def _as_interval(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool) or not float(value).is_integer():
        raise ValueError(f"interval {value!r} is not a whole number of learner updates")
    return int(value)


def _read_run_json(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        info = json.load(fh)
    if not isinstance(info, dict):
        raise ValueError("it is not a JSON object")
    return info


def _identity(info: dict[str, Any]) -> tuple[str, str, str, int | None, int]:
    missing = [k for k in ("env", "map", "method", "seed") if k not in info]
    if missing:
        raise ValueError(f"it lacks the keys {', '.join(missing)}")
    method = str(info["method"])
    interval = _as_interval(info.get("interval"))
    if method in METHODS and not METHODS[method].aggregates:
        interval = None  # "interval is empty for methods without aggregation" (docs/design.md §4)
    elif method in METHODS and interval is None:
        raise ValueError(f"method {method} aggregates but its interval is null")
    seed = info["seed"]
    if isinstance(seed, bool) or not float(seed).is_integer():
        raise ValueError(f"seed {seed!r} is not an integer")
    return str(info["env"]), str(info["map"]), method, interval, int(seed)


def _check_path(folder: Path, root: Path, ident: tuple) -> str | None:
    """Cross-check run.json's identity against the folder layout; a message on mismatch."""
    env, map_, method, interval, seed = ident
    expected = run_parts(env, map_, method, interval, seed)
    try:
        parts = folder.relative_to(root).parts
    except ValueError:  # pragma: no cover - folders come from walking root
        return None
    if tuple(parts) != expected:
        return (
            f"run.json describes {'/'.join(expected)} but the folder is {'/'.join(parts)} "
            f"(expected layout <env>/<map>/<method>/<interval or ->/seed<k>)"
        )
    return None


def read_metrics(path: Path) -> pd.DataFrame:
    """Read and validate one metrics.csv; ValueError with the reason if it breaks the contract."""
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ValueError("the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"it is not a readable CSV ({str(err).strip()})") from None
    columns = [str(c).strip() for c in df.columns]
    df.columns = columns
    missing = [c for c in METRIC_COLUMNS if c not in columns]
    if missing:
        unexpected = [c for c in columns if c not in METRIC_COLUMNS]
        extra = f"; unexpected: {', '.join(unexpected)}" if unexpected else ""
        raise ValueError(
            f"wrong columns: missing {', '.join(missing)}{extra} "
            f"(expected exactly: {', '.join(METRIC_COLUMNS)})"
        )
    if len(df) == 0:
        raise ValueError("it has a header but no evaluation rows")
    df = df[list(METRIC_COLUMNS)]
    bad = [c for c in METRIC_COLUMNS if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise ValueError(f"non-numeric values in column(s) {', '.join(bad)}")
    df = df.astype(float)
    steps = df["step"].to_numpy()
    if not np.all(np.isfinite(steps)):
        raise ValueError("empty or non-finite values in column step")
    if np.any(np.diff(steps) <= 0):
        raise ValueError("column step is not strictly increasing")
    return df.reset_index(drop=True)


def _metrics_held(metrics: Path, partial: Path) -> str:
    """Which metrics file a folder holds, for an exclusion message."""
    return METRICS if metrics.is_file() else (PARTIAL if partial.is_file() else "no metrics")


def scan_runs(root: str | os.PathLike) -> Scan:
    """Find every run folder under `root` and sort it into complete, excluded and invalid."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(
            f"The runs folder {root} does not exist. Train some runs first (pps train or the "
            f"Snakemake workflow), or pass --runs with the folder that holds <env>/<map>/<method>/..."
        )
    scan = Scan(root=root)
    for folder in _run_folders(root):
        run_json, metrics, partial = folder / RUN_JSON, folder / METRICS, folder / PARTIAL
        if not run_json.is_file():
            scan.excluded.append(Problem(folder, f"no run.json (has {_metrics_held(metrics, partial)}); excluded"))
            continue
        try:
            info = _read_run_json(run_json)
            ident = _identity(info)
        except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as err:
            scan.invalid.append(Problem(run_json, f"unusable run.json: {err}"))
            continue
        schema = info.get("schema")
        if schema not in SUPPORTED_SCHEMAS:
            scan.invalid.append(Problem(run_json, f"run.json schema {schema!r} is not one this suite reads "
                                                  f"{SUPPORTED_SCHEMAS}"))
            continue
        mismatch = _check_path(folder, root, ident)
        if mismatch:
            scan.invalid.append(Problem(run_json, mismatch))
            continue
        status = info.get("status")
        if status != "finished":
            why = f"run.json status is {status!r}, not 'finished' (has {_metrics_held(metrics, partial)}); excluded"
            scan.excluded.append(Problem(folder, why))
            continue
        if not metrics.is_file():
            has = " (only metrics.csv.partial)" if partial.is_file() else ""
            scan.excluded.append(Problem(folder, f"status 'finished' but no metrics.csv{has}; excluded"))
            continue
        try:
            df = read_metrics(metrics)
        except ValueError as err:
            scan.invalid.append(Problem(metrics, str(err)))
            continue
        scan.runs.append(Run(*ident, path=folder, info=info, metrics=df))
    return scan


def load_runs(root: str | os.PathLike, *, skip_invalid: bool = False, report=print) -> list[Run]:
    """The complete runs under `root`; every exclusion is passed to `report` as one line.

    Raises UserError if there is no run folder at all, if no run is complete, or (unless
    `skip_invalid`) if any run breaks the file contract.
    """
    scan = scan_runs(root)
    root = scan.root
    if scan.invalid and not skip_invalid:
        lines = "\n".join(f"  {p.line()}" for p in scan.invalid)
        raise UserError(
            f"{len(scan.invalid)} run file(s) under {root} break the run-folder contract "
            f"(docs/design.md §4):\n{lines}\nFix or remove them, or pass --skip-invalid to leave them out."
        )
    for p in scan.excluded:
        report(f"excluded {p.line()}")
    for p in scan.invalid:
        report(f"excluded (invalid) {p.line()}")
    if not scan.runs:
        n_bad = len(scan.excluded) + len(scan.invalid)
        if n_bad == 0:
            raise UserError(
                f"No run folders under {root} (expected <env>/<map>/<method>/<interval or ->/seed<k>/ "
                f"holding run.json and metrics.csv)."
            )
        raise UserError(f"No complete run under {root}: all {n_bad} run folder(s) were excluded (listed above).")
    return scan.runs
