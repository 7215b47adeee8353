"""Complete runs -> `curves.csv` (long, on a common step grid) and `final.csv` (one row per run).

**The common step grid.** Runs evaluate "every `eval_interval` env steps" but land on slightly
different steps (steps are summed over parallel envs, so an evaluation happens at the first
step past each multiple). To average seeds step by step, every run of one (env, map) is put on
one grid:

- grid step `g` = the most common `config.eval_interval` among that map's runs (ties: the
  smaller); if no run.json records it, the median spacing of the runs' evaluation steps;
- grid points = 0, g, 2g, ... up to the largest last step among the map's runs;
- each metric of each run is **linearly interpolated** between its two neighbouring
  evaluations, using only the evaluations where that metric is finite (`loss` is empty
  before the first update), and **never extrapolated**: grid points before a run's first or
  after its last (finite) evaluation are left out of `curves.csv` for that run.

So `curves.csv` holds, per run, exactly the grid points its evaluations span, and a seed that
stopped early contributes nothing beyond its last evaluation (figures then plot only the steps
every seed of a method reaches). Final values (`final.csv`) are computed from the *raw*
evaluations, not the grid: the mean of each run's last `final_window` evaluations.

**Scores** (`pps.analysis.data.scores`). Both tables carry every task's score next to the raw
metrics: `curves.csv` has rows with metric `score`, `final.csv` the column `final_score` (and
`score_kind`, `r_random`, `r_ref`: how it was made). On a task without a win condition the
raw `test_win_rate` of `metrics.csv` (always 0 there) is left empty in both, so that it
cannot be read as "never won"; its raw `test_return_mean` stays. The normalisation is affine,
so scoring the interpolated return equals interpolating the scored evaluations.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from pps.analysis.data import io
from pps.analysis.data.cells import method_rank
from pps.analysis.data.runs import METRIC_COLUMNS, Run
from pps.analysis.data.scores import SCORE_METRIC, WIN_RATE, ScoreRule, score_kind, score_rule
from pps.envs.references import load_references
from pps.run_cost import hours_per_mstep, per_run_cost

CURVE_METRICS: tuple[str, ...] = tuple(c for c in METRIC_COLUMNS if c != "step")  # interpolated from metrics.csv
CURVES_METRICS: tuple[str, ...] = (*CURVE_METRICS, SCORE_METRIC)  # the `metric` values of curves.csv, in order
FINAL_METRICS = ("test_win_rate", "test_return_mean", "test_ep_len_mean", "train_return_mean")
# run.json entries that make runs of one map incomparable when they differ (docs/design.md §6)
COMPARABILITY_KEYS = ("t_max", "eval_interval", "eval_episodes", "n_envs", "updates_per_episode", "backend", "device",
                      "matmul_precision")


def sort_runs(runs: list[Run]) -> list[Run]:
    return sorted(runs, key=lambda r: (r.env, r.map, method_rank(r.method), r.method,
                                       -1 if r.interval is None else r.interval, r.seed))


def _config_value(run: Run, key: str):
    if key in run.info and key not in ("config",):
        return run.info[key]
    return (run.info.get("config") or {}).get(key)


def grid_step(runs: list[Run]) -> int:
    """The grid spacing for runs of one map (see the module docstring)."""
    declared = [int(v) for r in runs if isinstance(v := _config_value(r, "eval_interval"), (int, float)) and v > 0]
    if declared:
        counts = Counter(declared)
        top = max(counts.values())
        return min(v for v, c in counts.items() if c == top)
    diffs = np.concatenate([np.diff(r.metrics["step"].to_numpy()) for r in runs])
    return max(1, int(round(float(np.median(diffs))))) if diffs.size else 1


def common_grid(runs: list[Run]) -> np.ndarray:
    g = grid_step(runs)
    last = max(float(r.metrics["step"].iloc[-1]) for r in runs)
    return np.arange(0, int(np.floor(last / g)) * g + 1, g, dtype=np.int64)


def interpolate_run(run: Run, grid: np.ndarray) -> np.ndarray:
    """[len(grid), len(CURVE_METRICS)] values; NaN where the grid point is outside the run."""
    steps = run.metrics["step"].to_numpy(float)
    out = np.full((grid.size, len(CURVE_METRICS)), np.nan)
    for j, name in enumerate(CURVE_METRICS):
        values = run.metrics[name].to_numpy(float)
        ok = np.isfinite(values)
        if not ok.any():
            continue
        xs, ys = steps[ok], values[ok]
        inside = (grid >= xs[0]) & (grid <= xs[-1])
        out[inside, j] = np.interp(grid[inside], xs, ys)
    return out


def score_rules(runs: list[Run], references: pd.DataFrame | None = None) -> dict[tuple[str, str], ScoreRule]:
    """(env, map) -> its score rule; the reference table is read once, and only if some task needs it."""
    tasks = sorted({(r.env, r.map) for r in runs})
    if references is None and any(score_kind(env) != WIN_RATE for env, _ in tasks):
        references = load_references()
    return {task: score_rule(*task, references) for task in tasks}


def with_score(block: np.ndarray, rule: ScoreRule) -> np.ndarray:
    """[G, len(CURVE_METRICS)] -> [G, len(CURVES_METRICS)]: the score appended, and the win rate
    emptied where the task has no win condition (see the module docstring)."""
    win, ret = CURVE_METRICS.index("test_win_rate"), CURVE_METRICS.index("test_return_mean")
    score = rule(block[:, win], block[:, ret])
    out = np.column_stack([block, score])
    if rule.kind != WIN_RATE:
        out[:, win] = np.nan
    return out


def comparability_warnings(runs: list[Run]) -> list[str]:
    """One line per (env, map) whose runs differ in something that makes them incomparable."""
    lines = []
    by_map: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        by_map.setdefault((r.env, r.map), []).append(r)
    for (env, map_), group in by_map.items():
        for key in COMPARABILITY_KEYS:
            values = {json.dumps(_config_value(r, key), sort_keys=True) for r in group}
            values.discard("null")
            if len(values) > 1:
                lines.append(
                    f"warning: runs on {env}/{map_} differ in {key} ({', '.join(sorted(values))}); "
                    f"their results are not directly comparable"
                )
    return lines


def on_map_grids(runs: list[Run], rules: dict[tuple[str, str], ScoreRule]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per run of `runs`, in their order: its map's step grid (`common_grid` of all of `runs`
    on that map) and its `CURVES_METRICS` there, `[G, M]` (`interpolate_run`, `with_score`)."""
    by_map: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        by_map.setdefault((r.env, r.map), []).append(r)
    grids = {task: common_grid(task_runs) for task, task_runs in by_map.items()}
    for r in runs:
        grid = grids[(r.env, r.map)]
        yield grid, with_score(interpolate_run(r, grid), rules[(r.env, r.map)])


def build_curves(runs: list[Run], rules: dict[tuple[str, str], ScoreRule] | None = None) -> pd.DataFrame:
    """The long table `env, map, method, interval, seed, step, metric, value` on each map's grid."""
    runs = sort_runs(runs)
    rules = score_rules(runs) if rules is None else rules
    run_idx, steps, metric_idx, values = [], [], [], []
    for i, (grid, block) in enumerate(on_map_grids(runs, rules)):
        ok = np.isfinite(block)
        rows, cols = np.nonzero(ok)  # row-major: step, then metric
        run_idx.append(np.full(rows.size, i, dtype=np.int64))
        steps.append(grid[rows])
        metric_idx.append(cols)
        values.append(block[rows, cols])
    ri = np.concatenate(run_idx) if run_idx else np.zeros(0, np.int64)
    keys = pd.DataFrame(
        {
            "env": [r.env for r in runs],
            "map": [r.map for r in runs],
            "method": [r.method for r in runs],
            "interval": pd.array([r.interval for r in runs], dtype="Int64"),
            "seed": [r.seed for r in runs],
        }
    )
    curves = keys.iloc[ri].reset_index(drop=True)
    curves["step"] = np.concatenate(steps) if steps else np.zeros(0, np.int64)
    metric_names = np.array(CURVES_METRICS, dtype=object)
    curves["metric"] = metric_names[np.concatenate(metric_idx)] if metric_idx else np.zeros(0, object)
    curves["value"] = np.concatenate(values) if values else np.zeros(0)
    return curves[list(io.CURVES_COLUMNS)]


def build_final(runs: list[Run], final_window: int, runs_root: Path | None = None,
                rules: dict[tuple[str, str], ScoreRule] | None = None) -> pd.DataFrame:
    """One row per run: identity, the final score and raw metrics (mean of the last
    `final_window` raw evaluations), the run's cost and what makes it comparable."""
    rules = score_rules(runs) if rules is None else rules
    rows = []
    for r in sort_runs(runs):
        m = r.metrics
        tail = m.iloc[-final_window:]
        rule = rules[(r.env, r.map)]
        score = rule(tail["test_win_rate"], tail["test_return_mean"])
        last_step = float(m["step"].iloc[-1])
        cost = per_run_cost(r.info)  # the run's own wall-clock: its share of its run group's
        wall = cost["wall_s"]
        if not np.isfinite(wall):
            wall = float(m["wall_s"].iloc[-1]) / cost["group_size"] if np.isfinite(m["wall_s"].iloc[-1]) else np.nan
        row = {
            "env": r.env, "map": r.map, "method": r.method, "interval": r.interval, "seed": r.seed,
            "label": r.info.get("label") or r.method,
            "final_step": int(last_step),
            "n_evals": len(m),
            "final_window": len(tail),
            "score_kind": rule.kind,
            "final_score": float(np.nanmean(score)) if np.isfinite(score).any() else np.nan,
        }
        for name in FINAL_METRICS:
            row[f"final_{name}"] = float(np.nanmean(tail[name])) if tail[name].notna().any() else np.nan
        if rule.kind != WIN_RATE:
            row["final_test_win_rate"] = np.nan  # no win condition: not a win rate of 0
        row["r_random"], row["r_ref"] = rule.r_random, rule.r_ref
        row["auc_steps"] = int(last_step - float(m["step"].iloc[0]))
        row["wall_s"] = float(wall)
        row["h_per_million_steps"] = hours_per_mstep(float(wall), last_step) if last_step > 0 else np.nan
        row["updates"] = float(m["updates"].iloc[-1])
        row["aggregations"] = float(m["aggregations"].iloc[-1])
        for key in ("t_max", "eval_interval", "n_envs", "updates_per_episode", "device", "backend"):
            row[key] = _config_value(r, key)
        row["git_commit"] = r.info.get("git_commit")
        row["deviations"] = "; ".join(str(d) for d in (r.info.get("deviations") or []))
        row["run_dir"] = str(r.path.relative_to(runs_root)) if runs_root else str(r.path)
        rows.append(row)
    final = pd.DataFrame(rows)
    final["interval"] = final["interval"].astype("Int64")
    return final


def collect(runs: list[Run], final_window: int, runs_root: Path | None = None,
            references: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`curves.csv` and `final.csv`; `references` replaces the committed reference table (tests)."""
    rules = score_rules(runs, references)
    return build_curves(runs, rules), build_final(runs, final_window, runs_root, rules)
