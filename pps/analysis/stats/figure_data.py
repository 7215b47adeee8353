"""What the figures draw that no table holds: learning-curve IQM bands and wall-clock medians.

The figures (`pps.analysis.figures`) only draw; every bootstrap behind a band or an interval
on a canvas is computed here, each from its own generator seeded by (bootstrap seed, cell)
like the tables' (`pps.analysis.stats.bootstrap.rng_for`), so a figure is the same every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pps.analysis.data.cells import Cell, Key, cell_mask, cells, chosen_mask
from pps.analysis.data.scores import SCORE_METRIC
from pps.analysis.stats.bootstrap import percentile_ci, rng_for
from pps.analysis.stats.estimators import iqm

BAND_RESAMPLES = 1000  # learning-curve bands: per grid step, so fewer resamples than the tables
BAND_CI = f"95% percentile bootstrap CI ({BAND_RESAMPLES} resamples)"
WALL_RESAMPLES = 2000  # the wall-clock medians' CIs
WALL_CI = f"95% percentile bootstrap CI ({WALL_RESAMPLES} resamples)"


# --------------------------------------------------------------------------- learning curves
def iqm_band(matrix: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IQM over seeds (rows) at each step (column) and its percentile bootstrap band."""
    point = iqm(matrix, axis=0)
    n = matrix.shape[0]
    if n < 2:
        return point, np.full_like(point, np.nan), np.full_like(point, np.nan)
    idx = rng.integers(0, n, size=(BAND_RESAMPLES, n))
    boot = iqm(matrix[idx], axis=1)  # [R, steps]
    lo, hi = np.quantile(boot, [0.025, 0.975], axis=0)
    return point, lo, hi


@dataclass(frozen=True)
class Band:
    """One cell's learning curve on one map: the IQM over its `n` seeds at each step every seed
    reaches, with the bootstrap band (NaN with a single seed)."""

    steps: np.ndarray
    iqm: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: int


@dataclass(frozen=True)
class CurveBands:
    """The learning-curve figure's data: `found` = curves.csv holds rows of `metric` at all;
    `tasks` = the (env, map) pairs with rows of a chosen cell; `bands` = per task, the cells
    with at least one step every seed reaches, in table order."""

    metric: str
    found: bool
    tasks: list[Key] = field(default_factory=list)
    bands: dict[Key, dict[Cell, Band]] = field(default_factory=dict)


def learning_curve_bands(curves: pd.DataFrame, chosen: dict[str, int | None], seed: int,
                         metric: str = SCORE_METRIC) -> CurveBands:
    """IQM learning curves of the `chosen` cells on each map, on the common step grid. Only the
    steps every seed of a cell reaches are used: runs are interpolated, never extrapolated."""
    data = curves[curves["metric"] == metric]
    if data.empty:
        return CurveBands(metric, False)
    data = data[chosen_mask(data, chosen)]
    tasks = sorted({(e, m) for e, m in zip(data["env"], data["map"])})
    out: dict[Key, dict[Cell, Band]] = {}
    for env, map_ in tasks:
        sub = data[(data["env"] == env) & (data["map"] == map_)]
        mine = out.setdefault((env, map_), {})
        for method, interval in cells(sub):
            cell = sub[cell_mask(sub, method, interval)]
            wide = cell.pivot_table(index="seed", columns="step", values="value", aggfunc="first")
            wide = wide.loc[:, wide.notna().all(axis=0)]  # steps every seed reaches (no extrapolation)
            if wide.shape[1] == 0:
                continue
            point, lo, hi = iqm_band(wide.to_numpy(float), rng_for(seed, "band", env, map_, method, interval))
            mine[(method, interval)] = Band(wide.columns.to_numpy(float), point, lo, hi, wide.shape[0])
    return CurveBands(metric, True, tasks, out)


# --------------------------------------------------------------------------- wall-clock
def wallclock_runs(final: pd.DataFrame) -> pd.DataFrame:
    """The runs of final.csv that recorded their wall-clock, with `hours` per million env steps."""
    if "s_per_million_steps" not in final:
        return final.iloc[0:0].assign(hours=pd.Series(dtype=float))
    f = final[np.isfinite(final["s_per_million_steps"].astype(float))]
    return f.assign(hours=f["s_per_million_steps"].to_numpy(float) / 3600)


def wallclock_medians(runs: pd.DataFrame, seed: int) -> dict[tuple[str, str, str], tuple[float, float, float]]:
    """(env, map, method) -> (median hours per million steps, CI low, CI high) over the runs of
    `wallclock_runs`, all intervals pooled; the CI is NaN with fewer than 2 distinct values."""
    out = {}
    for (env, map_, method), g in runs.groupby(["env", "map", "method"], sort=True):
        x = g["hours"].to_numpy(float)
        lo = hi = np.nan
        if x.size >= 2 and np.ptp(x) > 0:
            rng = rng_for(seed, "wall", env, map_, method)
            lo, hi = percentile_ci(np.median(x[rng.integers(0, x.size, (WALL_RESAMPLES, x.size))], axis=1))
        out[(env, map_, method)] = (float(np.median(x)), lo, hi)
    return out
