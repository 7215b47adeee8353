"""Compute-overhead accounting: where each run's wall-clock went, and what sharing costs.

The paper never reported what periodic parameter sharing costs; this module does, from what
every run records in `run.json` (`pps.train.run_training`): the wall-clock `wall_s`, the env
steps `t_env`, `time_s` (seconds per section of `pps.timing.SECTIONS`, summing to `wall_s`),
`learner_ms_per_update`, `peak_rss_mb`, `aggregations` and `swap_eval_env_steps` (the env
steps RS-PPS spends scoring agents, which `t_env` does not count).

Every cost here is one run's own, whatever `seeds_per_job` was: a run that trained in a run
group of R records its share of the group's cost at run.json's top level and the group's
totals under `group_cost` (`pps.run_cost`); older run.json files, which hold the group's
totals at top level, are divided by R here (`pps.run_cost.per_run_cost`). `group_size`
says which R each row came from.

Two tables:

- `overhead.csv`, one row per run. `parts_rel_err` = sum(time_s) / wall_s - 1 checks the
  accounting: `timing` is `ok` when the parts add up within `PARTS_TOLERANCE` (5%),
  `mismatch` when they do not (sections that overlap or were double counted, or a hand-edited
  file: the run's per-section numbers are then left out of the summary), and `untimed` when
  run.json has no `time_s` (results from before the accounting existed: their wall-clock
  still counts, their sections are unknown).
- `overhead_summary.csv`, one row per (env, map, method, interval): medians over runs (a
  median, because one run slowed by a busy host should not move a cost estimate), and against
  the baseline on the same map: `ratio_vs_baseline` = median wall-clock per env step of the
  method / the baseline's, with a percentile bootstrap CI, and per section the extra hours
  per million env steps (`extra_<section>_h_per_mstep`, a difference of medians).

Costs per step are in the suite's one cost unit, hours per million env steps
(`pps.run_cost.COST_UNIT`, columns `*_h_per_mstep`); raw durations (`wall_s`, `time_<section>_s`)
stay in the seconds run.json measured.

Costs are per env step, not per run, so runs of different lengths compare; a ratio is only
like-for-like when both cells ran on the same device, thread count, number of parallel
envs and run-group size (a run's share of a group is cheaper than a run alone), which `note`
says when it is not so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pps.analysis.data.cells import CELL_COLUMNS, method_rank
from pps.analysis.data.runs import Run
from pps.analysis.stats.bootstrap import bootstrap_ci2, rng_for
from pps.envs.registry import map_spec
from pps.errors import UserError
from pps.run_cost import SECONDS_PER_HOUR, hours_per_mstep, per_run_cost
from pps.timing import SECTIONS

PARTS_TOLERANCE = 0.05  # |sum(time_s) / wall_s - 1| above this marks a run's accounting as broken
MSTEP = 1e6  # costs are per million env steps ...
HOUR = SECONDS_PER_HOUR  # ... in hours (pps.run_cost.COST_UNIT)
TIMING_OK, TIMING_MISMATCH, TIMING_UNTIMED = "ok", "mismatch", "untimed"
# run-level settings that change the wall-clock: a ratio between cells differing in them is not like-for-like
HARDWARE_KEYS = ("device", "threads", "n_envs")
# ... and the run-group size, which changes a run's share of the wall-clock as much
LIKE_FOR_LIKE_KEYS = (*HARDWARE_KEYS, "group_size")

SECTION_COLUMNS: tuple[str, ...] = tuple(f"time_{s}_s" for s in SECTIONS)
RUN_COLUMNS: tuple[str, ...] = (
    "env", "map", "method", "interval", "seed", "n_agents", "device", "threads", "n_envs", "group_size",
    "wall_s", "steps", "steps_per_s", "h_per_mstep",
    *SECTION_COLUMNS, "parts_sum_s", "parts_rel_err", "timing",
    "updates", "learner_ms_per_update", "peak_rss_mb", "aggregations", "swap_eval_env_steps", "run_dir",
)
SUMMARY_SECTION_COLUMNS: tuple[str, ...] = tuple(f"{s}_h_per_mstep" for s in SECTIONS)
SUMMARY_COLUMNS: tuple[str, ...] = (
    "env", "map", "n_agents", "method", "interval", "n_runs", "n_timed",
    "steps", "wall_s", "h_per_mstep", "steps_per_s", *SUMMARY_SECTION_COLUMNS,
    "learner_ms_per_update", "peak_rss_mb", "aggregations", "aggregation_ms_per_event", "swap_eval_env_steps",
    "baseline", "baseline_h_per_mstep", "ratio_vs_baseline", "ratio_ci_low", "ratio_ci_high",
    "extra_h_per_mstep", *(f"extra_{c}" for c in SUMMARY_SECTION_COLUMNS), "note",
)


# --------------------------------------------------------------------------- one run
def _number(value: Any) -> float:
    """A finite float, else NaN (run.json fields are absent or null in older runs)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return math.nan
    return float(value)


def _setting(info: dict[str, Any], key: str) -> Any:
    """A run setting: run.json's top level first, then its resolved config."""
    if info.get(key) is not None:
        return info[key]
    return (info.get("config") or {}).get(key)


def n_agents_of(env: str, map_: str, info: dict[str, Any] | None = None) -> float:
    """The run's agent count: what its env reported (run.json env_info), else the map table's."""
    recorded = _number(((info or {}).get("env_info") or {}).get("n_agents"))
    if math.isfinite(recorded):
        return recorded
    try:
        return float(map_spec(env, map_).n_agents)
    except UserError:  # a map this version's tables do not know: leave it unknown
        return math.nan


def _last(metrics: pd.DataFrame, column: str) -> float:
    return _number(float(metrics[column].iloc[-1])) if column in metrics and len(metrics) else math.nan


def check_parts(time_s: Any, wall_s: float) -> tuple[dict[str, float], float, float, str]:
    """(seconds per section, their sum, sum / wall_s - 1, timing status) of one run.json's `time_s`.

    The training loop makes `other` the remainder, so honest accounting sums to `wall_s` up to
    rounding; a sum off by more than PARTS_TOLERANCE (sections overlapping, a section counted
    twice, a section missing from the file) is reported, not silently renormalised.
    """
    if not isinstance(time_s, dict) or not time_s:
        return {s: math.nan for s in SECTIONS}, math.nan, math.nan, TIMING_UNTIMED
    parts = {s: _number(time_s.get(s)) for s in SECTIONS}
    known = [v for v in (_number(v) for v in time_s.values()) if math.isfinite(v)]
    total = float(sum(known))
    if not (math.isfinite(wall_s) and wall_s > 0):
        return parts, total, math.nan, TIMING_MISMATCH
    rel = round(total / wall_s - 1.0, 9)  # no float noise (-1.1e-16) in a column people read
    complete = all(math.isfinite(v) for v in parts.values())
    return parts, total, rel, TIMING_OK if complete and abs(rel) <= PARTS_TOLERANCE else TIMING_MISMATCH


def run_row(run: Run, runs_root: Path | None = None) -> dict[str, Any]:
    """One `overhead.csv` row: the run's own cost (its share of its run group's). Older runs
    lack most fields: those are NaN, and metrics.csv's last row stands in for the
    wall-clock (split equally among the group's runs), steps, updates and aggregations."""
    info, m = run.info, run.metrics
    cost = per_run_cost(info)
    wall = cost["wall_s"]
    if not math.isfinite(wall):
        wall = _last(m, "wall_s") / cost["group_size"]
    steps = _number(info.get("t_env"))
    if not math.isfinite(steps):
        steps = _last(m, "step")
    parts, total, rel, timing = check_parts(cost["time_s"], wall)
    per_step = wall / steps if steps > 0 and math.isfinite(wall) else math.nan
    updates = _number(info.get("updates"))
    aggregations = _number(info.get("aggregations"))
    row = {
        "env": run.env, "map": run.map, "method": run.method, "interval": run.interval, "seed": run.seed,
        "n_agents": n_agents_of(run.env, run.map, info),
        **{k: _setting(info, k) for k in HARDWARE_KEYS},
        "group_size": cost["group_size"],
        "wall_s": wall,
        "steps": steps,
        "steps_per_s": 1.0 / per_step if per_step > 0 else math.nan,
        "h_per_mstep": hours_per_mstep(wall, steps),
        **{f"time_{s}_s": v for s, v in parts.items()},
        "parts_sum_s": total,
        "parts_rel_err": rel,
        "timing": timing,
        "updates": updates if math.isfinite(updates) else _last(m, "updates"),
        "learner_ms_per_update": cost["learner_ms_per_update"],
        "peak_rss_mb": cost["peak_rss_mb"],
        "aggregations": aggregations if math.isfinite(aggregations) else _last(m, "aggregations"),
        "swap_eval_env_steps": _number(info.get("swap_eval_env_steps")),
        "run_dir": str(run.path.relative_to(runs_root)) if runs_root else str(run.path),
    }
    return row


def _sorted(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    df = df.assign(_rank=df["method"].map(method_rank))
    df = df.sort_values(["env", "map", "_rank", "method", *keys], na_position="first", kind="stable")
    return df.drop(columns="_rank").reset_index(drop=True)


def overhead_runs(runs: Iterable[Run], runs_root: Path | None = None) -> pd.DataFrame:
    """The `overhead.csv` table: one row per run, columns RUN_COLUMNS."""
    df = pd.DataFrame([run_row(r, runs_root) for r in runs]).reindex(columns=list(RUN_COLUMNS))
    df["interval"] = df["interval"].astype("Int64")
    return _sorted(df, ["interval", "seed"])


def accounting_problems(runs: pd.DataFrame) -> list[str]:
    """One line per run whose sections do not add up to its wall-clock (for the command's log)."""
    bad = runs[runs["timing"] == TIMING_MISMATCH]
    return [
        f"{r.run_dir}: time_s sums to {r.parts_sum_s:.6g} s but wall_s is {r.wall_s:.6g} s "
        f"({'n/a' if not math.isfinite(r.parts_rel_err) else f'{100 * r.parts_rel_err:+.1f}%'}; "
        f"tolerance ±{100 * PARTS_TOLERANCE:.0f}%): its sections are left out of overhead_summary.csv"
        for r in bad.itertuples()
    ]


# --------------------------------------------------------------------------- per cell
def _median(values) -> float:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else math.nan


def ratio_of_medians(x, y, axis: int = -1):
    """median(x) / median(y) along `axis` (the bootstrap statistic of `ratio_vs_baseline`)."""
    return np.median(x, axis=axis) / np.median(y, axis=axis)


def _hardware(df: pd.DataFrame) -> dict[str, set]:
    return {k: {str(v) for v in df[k] if v is not None and not (isinstance(v, float) and math.isnan(v))}
            for k in LIKE_FOR_LIKE_KEYS if k in df}


def summarise(runs: pd.DataFrame, baseline: str, seed: int = 0,
              ci: Callable | None = None) -> pd.DataFrame:
    """The `overhead_summary.csv` table from `overhead_runs`' output (columns SUMMARY_COLUMNS).

    `ci(x, y, statistic, rng) -> (lo, hi, note)` is the two-sample bootstrap; by default
    `pps.analysis.stats.bootstrap.bootstrap_ci2` with a generator seeded by (seed, cell), so the
    table is identical every time it is made.
    """
    ci = ci or bootstrap_ci2
    rows = []
    cells = runs.groupby(CELL_COLUMNS, dropna=False, sort=False)
    by_cell = {k: g for k, g in cells}
    for key, g in by_cell.items():
        env, map_, method, interval = key
        timed = g[g["timing"] == TIMING_OK]
        steps = timed["steps"].to_numpy(float)
        row: dict[str, Any] = {
            "env": env, "map": map_, "n_agents": _median(g["n_agents"]), "method": method, "interval": interval,
            "n_runs": len(g), "n_timed": len(timed),
            "steps": _median(g["steps"]), "wall_s": _median(g["wall_s"]), "h_per_mstep": _median(g["h_per_mstep"]),
            "steps_per_s": _median(g["steps_per_s"]),
            "learner_ms_per_update": _median(g["learner_ms_per_update"]),
            "peak_rss_mb": _median(g["peak_rss_mb"]), "aggregations": _median(g["aggregations"]),
            "swap_eval_env_steps": _median(g["swap_eval_env_steps"]),
            "baseline": baseline,
        }
        for s, col in zip(SECTIONS, SUMMARY_SECTION_COLUMNS):
            row[col] = _median(timed[f"time_{s}_s"].to_numpy(float) / steps * MSTEP / HOUR) if len(timed) else math.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            per_event = timed["time_aggregation_s"].to_numpy(float) / timed["aggregations"].to_numpy(float) * 1000
        row["aggregation_ms_per_event"] = _median(per_event[np.isfinite(per_event)])
        notes = []
        if len(timed) < len(g):
            untimed = int((g["timing"] == TIMING_UNTIMED).sum())
            broken = len(g) - len(timed) - untimed
            if untimed:
                notes.append(f"{untimed} run(s) without time_s (older results): wall-clock only")
            if broken:
                notes.append(f"{broken} run(s) whose sections do not add up to wall_s: sections left out")
        base = next((b for k, b in by_cell.items() if k[:3] == (env, map_, baseline)), None)
        if method != baseline:
            if base is None:
                notes.append(f"no {baseline} runs on this map: no ratio")
            else:
                x, y = g["h_per_mstep"].to_numpy(float), base["h_per_mstep"].to_numpy(float)
                x, y = x[np.isfinite(x)], y[np.isfinite(y)]
                row["baseline_h_per_mstep"] = _median(y)
                row["ratio_vs_baseline"] = row["h_per_mstep"] / row["baseline_h_per_mstep"]
                row["extra_h_per_mstep"] = row["h_per_mstep"] - row["baseline_h_per_mstep"]
                lo, hi, note = ci(x, y, ratio_of_medians, rng_for(seed, "overhead", *key))
                row["ratio_ci_low"], row["ratio_ci_high"] = lo, hi
                if note:
                    notes.append(f"ratio CI: {note}")
                base_timed = base[base["timing"] == TIMING_OK]
                base_steps = base_timed["steps"].to_numpy(float)
                for s, col in zip(SECTIONS, SUMMARY_SECTION_COLUMNS):
                    b = (_median(base_timed[f"time_{s}_s"].to_numpy(float) / base_steps * MSTEP / HOUR)
                         if len(base_timed) else math.nan)
                    row[f"extra_{col}"] = row[col] - b
                mine, theirs = _hardware(g), _hardware(base)
                differ = [k for k in LIKE_FOR_LIKE_KEYS
                          if mine.get(k) and theirs.get(k) and mine[k] != theirs[k]]
                if differ:
                    notes.append(f"runs differ from {baseline} in {', '.join(differ)}: the ratio is not like-for-like")
        row["note"] = "; ".join(notes)
        rows.append(row)
    out = pd.DataFrame(rows).reindex(columns=list(SUMMARY_COLUMNS))
    out["interval"] = out["interval"].astype("Int64")
    return _sorted(out, ["interval"])
