"""A run folder's files: where they live, `run.json`, `metrics.csv`, and resume decisions (DESIGN §4).

`metrics.csv.partial` grows while a run trains and becomes `metrics.csv` only when the run
finishes, so any tool can tell a finished run from an interrupted one by the file name.
"""

from __future__ import annotations

import csv
import io
import json
import platform
import socket
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from pps import atomic
from pps.config import RunConfig, inert_keys
from pps.errors import UserError

METRICS_COLUMNS = (
    "step", "episodes", "updates", "wall_s", "test_win_rate", "test_return_mean", "test_ep_len_mean",
    "train_return_mean", "epsilon", "loss", "aggregations",
)
RUN_JSON = "run.json"
METRICS = "metrics.csv"
PARTIAL = "metrics.csv.partial"
CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"
SCHEMA = 1
# Keys that may differ between the first attempt of a run and its resumption.
RESUMABLE_DIFFERENCES = ("threads", "device", "checkpoint_interval")


def default_out_dir(c: RunConfig, root: str | Path = "results/runs") -> Path:
    interval = c.effective_interval
    return Path(root) / c.env / c.map / c.method / ("-" if interval is None else str(interval)) / f"seed{c.seed}"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("pps-bench", "torch", "jax", "jaxlib", "jaxmarl", "numpy", "smac"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return done.stdout.strip() or None if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def read_run_json(out_dir: Path) -> dict[str, Any] | None:
    path = out_dir / RUN_JSON
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        raise UserError(f"'{path}' is not valid JSON; it does not look like a pps run. "
                        f"Move it away or choose another --out.") from None


def check_same_run(out_dir: Path, previous: dict[str, Any], config: RunConfig) -> None:
    """Refuse to resume into (or overwrite) a folder that holds a different run. Keys that
    cannot change this run (`inert_keys`: e.g. RS-PPS's for QMIX) are not compared, so a
    folder from a version before such a key existed still resumes."""
    old = dict(previous.get("config") or {})
    new = config.to_dict()
    ignored = set(RESUMABLE_DIFFERENCES) | inert_keys(config)
    differing = sorted(k for k in set(old) | set(new) if k not in ignored and old.get(k) != new.get(k))
    if differing:
        shown = "; ".join(f"{k}: {old.get(k)!r} there, {new.get(k)!r} now" for k in differing[:6])
        raise UserError(
            f"Output folder '{out_dir}' holds a different run ({shown}). Nothing was changed. "
            f"Choose another --out, or delete that folder to start over."
        )


def metrics_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRICS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(row.get(k)) for k in METRICS_COLUMNS})
    return buf.getvalue()


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if value != value else repr(value)  # repr round-trips exactly; NaN -> empty
    return str(value)


def base_record(config: RunConfig, backend: str, label: str, deviations: list[str]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "status": "running",
        "env": config.env,
        "map": config.map,
        "method": config.method,
        "interval": config.effective_interval,
        "seed": config.seed,
        "label": label,
        "mixer": config.effective_mixer,
        "reward_scale": config.effective_reward_scale,
        "config": config.to_dict(),
        "versions": versions(),
        "git_commit": git_commit(),
        "host": socket.gethostname(),
        "device": config.device,
        "backend": backend,
        "n_envs": config.n_envs,
        "updates_per_episode": 1,
        "deviations": deviations,
        "started_at": now(),
        "ended_at": None,
        "wall_s": None,
        "resumed": 0,
    }


def write_run_json(out_dir: Path, record: dict[str, Any]) -> None:
    atomic.write_json(out_dir / RUN_JSON, record)
