"""What the figures draw that no table holds: learning-curve IQM bands, wall-clock medians,
performance profiles and sample-efficiency curves.

The figures (`pps.analysis.figures`) only draw; every bootstrap behind a band or an interval
on a canvas is computed here, each from its own generator seeded by (bootstrap seed, cell)
like the tables' (`pps.analysis.stats.bootstrap.rng_for`), so a figure is the same every time,
and each with the suite's one resample count, `N_RESAMPLES` (the tables' CIs and the figures'
bands are then equally precise, and every caption names one number).

The across-map views follow Agarwal et al. (2021) and rliable, on the tables' stratified
bootstrap (runs resampled within each map, the map set fixed):

- **performance profile**: for each threshold tau, the fraction of a method's runs, pooled over
  maps, whose final score is > tau (rliable's run score distribution), with a pointwise 95%
  band;
- **sample efficiency**: the IQM over every run of every map of the score at each environment
  step, at the steps every run of the method on every map reaches (runs are interpolated onto
  each map's step grid, never extrapolated), with a pointwise band.

Both are drawn for every pool of tasks `across_maps.csv` has (all tasks; each score family
alone when both are present) and for the cell each method is shown at (`chosen_cells`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pps.analysis.data.cells import Cell, Key, cell_mask, cells, chosen_mask
from pps.analysis.data.scores import SCORE, SCORE_METRIC, ordered_kinds, task_kinds
from pps.analysis.stats.bootstrap import (
    N_RESAMPLES,
    percentile_band,
    percentile_ci,
    rng_for,
    stratified_indices,
    stratified_resample,
)
from pps.analysis.stats.estimators import iqm
from pps.run_cost import SECONDS_PER_HOUR

PROFILE_POINTS = 201  # thresholds tau of a performance profile
EFFICIENCY_POINTS = 100  # at most this many steps on a sample-efficiency curve (evenly spaced, last included)
_STEP_CHUNK = 16  # steps resampled at once on a curve: N_RESAMPLES x runs x this many values in memory


# --------------------------------------------------------------------------- learning curves
def iqm_band(matrix: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IQM over seeds (rows) at each step (column) and its percentile bootstrap band."""
    point = iqm(matrix, axis=0)
    n = matrix.shape[0]
    if n < 2:
        return point, np.full_like(point, np.nan), np.full_like(point, np.nan)
    return (point, *_iqm_curve_band(matrix, rng.integers(0, n, size=(N_RESAMPLES, n))))


def mean_band(matrix: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds (rows) at each step (column) and its percentile bootstrap band (seeds
    resampled together, so one resample is a whole set of curves)."""
    point = matrix.mean(axis=0)
    n = matrix.shape[0]
    if n < 2:
        return point, np.full_like(point, np.nan), np.full_like(point, np.nan)
    # each resample as how often it drew each seed: [resamples, n] @ [n, steps], no [resamples, n, steps] copy
    draws = rng.integers(0, n, size=(N_RESAMPLES, n))
    counts = np.zeros((N_RESAMPLES, n))
    np.add.at(counts, (np.arange(N_RESAMPLES)[:, None], draws), 1.0)
    return (point, *percentile_band(counts @ matrix / n))


def _iqm_curve_band(matrix: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pointwise band of the IQM over the rows of `matrix` [runs, steps] resampled by the
    row indices `rows` [R, runs], a few steps at a time (the resamples of every step at once
    would not fit in memory on a long run)."""
    lo, hi = np.empty(matrix.shape[1]), np.empty(matrix.shape[1])
    for a in range(0, matrix.shape[1], _STEP_CHUNK):
        boot = iqm(matrix[:, a:a + _STEP_CHUNK][rows], axis=1)  # [R, chunk]
        lo[a:a + _STEP_CHUNK], hi[a:a + _STEP_CHUNK] = percentile_band(boot)
    return lo, hi


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
    """The runs of final.csv that recorded their wall-clock, with `hours` per million env steps
    (`pps.run_cost.COST_UNIT`) from final.csv's `h_per_million_steps`, or its seconds in
    `s_per_million_steps`."""
    if "h_per_million_steps" in final:
        hours = final["h_per_million_steps"].astype(float)
    elif "s_per_million_steps" in final:
        hours = final["s_per_million_steps"].astype(float) / SECONDS_PER_HOUR
    else:
        return final.iloc[0:0].assign(hours=pd.Series(dtype=float))
    ok = np.isfinite(hours.to_numpy(float))
    return final[ok].assign(hours=hours[ok].to_numpy(float))


def wallclock_medians(runs: pd.DataFrame, seed: int) -> dict[tuple[str, str, str], tuple[float, float, float]]:
    """(env, map, method) -> (median hours per million steps, CI low, CI high) over the runs of
    `wallclock_runs`, all intervals pooled; the CI is NaN with fewer than 2 distinct values."""
    out = {}
    for (env, map_, method), g in runs.groupby(["env", "map", "method"], sort=True):
        x = g["hours"].to_numpy(float)
        lo = hi = np.nan
        if x.size >= 2 and np.ptp(x) > 0:
            rng = rng_for(seed, "wall", env, map_, method)
            lo, hi = percentile_ci(np.median(x[rng.integers(0, x.size, (N_RESAMPLES, x.size))], axis=1))
        out[(env, map_, method)] = (float(np.median(x)), lo, hi)
    return out


# --------------------------------------------------------------------------- across maps
def pools(final: pd.DataFrame) -> list[tuple[str, str, list[Key]]]:
    """[(tasks, score kind, its (env, map) pairs)] as across_maps.csv pools them: "all" (kind
    "mixed" when both families are present), then each family alone when both are."""
    kinds = task_kinds(final)
    families = ordered_kinds(kinds.values())
    tasks = sorted(kinds)
    out = [("all", families[0] if len(families) == 1 else "mixed", tasks)]
    if len(families) > 1:
        out += [(kind, kind, [t for t in tasks if kinds[t] == kind]) for kind in families]
    return out


@dataclass(frozen=True)
class Profile:
    """One cell's performance profile over a pool of tasks: at each threshold `taus[i]`, the
    fraction of its `n` runs (on `n_maps` maps) with a final score > taus[i], and the band."""

    fraction: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: int
    n_maps: int


@dataclass(frozen=True)
class ProfilePool:
    """The performance profiles of one pool of tasks: `tasks` ("all" or a score kind), its
    `kind`, the thresholds and each cell's profile in table order."""

    tasks: str
    kind: str
    n_maps: int
    taus: np.ndarray
    profiles: dict[Cell, Profile] = field(default_factory=dict)


def fraction_above(x: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """[..., T]: the fraction of the values along the last axis of `x` that are > each tau."""
    x = np.sort(np.asarray(x, float), axis=-1)
    n = x.shape[-1]
    flat = x.reshape(-1, n)
    below = np.stack([np.searchsorted(row, taus, side="right") for row in flat])  # values <= tau
    return (1.0 - below / n).reshape(*x.shape[:-1], len(taus))


def profile_taus(values: np.ndarray, points: int = PROFILE_POINTS) -> np.ndarray:
    """Thresholds from min(0, lowest score) to max(1, highest): [0, 1] for win rates, wider
    where a normalised return falls below the random policy's or above the reference's."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    lo = min(0.0, float(v.min())) if v.size else 0.0
    hi = max(1.0, float(v.max())) if v.size else 1.0
    return np.linspace(lo, hi, points)


def performance_profiles(final: pd.DataFrame, chosen: dict[str, int | None], seed: int,
                         score: str = SCORE) -> list[ProfilePool]:
    """The performance profile of each `chosen` cell in each pool of tasks (see the module
    docstring), with a 95% stratified percentile bootstrap band."""
    f = final[chosen_mask(final, chosen)]
    out = []
    for tasks, kind, keys in pools(final):
        mine = f[[(e, m) in set(keys) for e, m in zip(f["env"], f["map"])]]
        taus = profile_taus(mine[score].to_numpy(float))
        pool = ProfilePool(tasks, kind, len(keys), taus)
        for method, interval in cells(mine):
            strata = _strata(mine[cell_mask(mine, method, interval)], score)
            if not strata:
                continue
            pooled = np.concatenate(strata)
            point = fraction_above(pooled, taus)
            lo = hi = np.full_like(point, np.nan)
            if pooled.size >= 2:
                boot = stratified_resample(strata, rng_for(seed, "profile", tasks, method, interval))
                lo, hi = percentile_band(fraction_above(boot, taus))
            pool.profiles[(method, interval)] = Profile(point, lo, hi, pooled.size, len(strata))
        out.append(pool)
    return out


def _strata(cell: pd.DataFrame, score: str) -> list[np.ndarray]:
    """A cell's finite scores per (env, map), maps in order."""
    out = []
    for _, g in cell.groupby(["env", "map"], sort=True):
        v = g[score].to_numpy(float)
        if np.isfinite(v).any():
            out.append(v[np.isfinite(v)])
    return out


@dataclass(frozen=True)
class EfficiencyCurve:
    """One cell's IQM across maps at each of `steps` and its band, over `n` runs on `n_maps` maps."""

    steps: np.ndarray
    iqm: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: int
    n_maps: int


@dataclass(frozen=True)
class EfficiencyPool:
    """The sample-efficiency curves of one pool of tasks (as `ProfilePool`)."""

    tasks: str
    kind: str
    n_maps: int
    curves: dict[Cell, EfficiencyCurve] = field(default_factory=dict)


def sample_efficiency(curves: pd.DataFrame, final: pd.DataFrame, chosen: dict[str, int | None], seed: int,
                      metric: str = SCORE_METRIC, points: int = EFFICIENCY_POINTS) -> list[EfficiencyPool]:
    """The IQM across maps of each `chosen` cell's score against environment steps, in each
    pool of tasks (see the module docstring), with a 95% stratified percentile bootstrap band.
    A cell appears where every run of it on every map of the pool reaches a common step."""
    data = curves[(curves["metric"] == metric) & chosen_mask(curves, chosen)]
    out = []
    for tasks, kind, keys in pools(final):
        pool = EfficiencyPool(tasks, kind, len(keys))
        for method, interval in cells(data):
            wide = []
            for env, map_ in keys:
                sub = data[(data["env"] == env) & (data["map"] == map_) & cell_mask(data, method, interval)]
                if sub.empty:
                    continue
                w = sub.pivot_table(index="seed", columns="step", values="value", aggfunc="first")
                wide.append(w.loc[:, w.notna().all(axis=0)])  # steps every seed of the map reaches
            if not wide:
                continue
            steps = sorted(set.intersection(*(set(w.columns) for w in wide)))
            if not steps:
                continue
            if len(steps) > points:  # evenly spaced, the last step always shown
                steps = [steps[i] for i in np.unique(np.linspace(0, len(steps) - 1, points).round().astype(int))]
            matrix = np.concatenate([w[steps].to_numpy(float) for w in wide])  # [runs, steps], maps in order
            sizes = [len(w) for w in wide]
            point = iqm(matrix, axis=0)
            lo = hi = np.full_like(point, np.nan)
            if matrix.shape[0] >= 2:
                rows = stratified_indices(sizes, rng_for(seed, "efficiency", tasks, method, interval))
                lo, hi = _iqm_curve_band(matrix, rows)
            pool.curves[(method, interval)] = EfficiencyCurve(np.asarray(steps, float), point, lo, hi,
                                                              matrix.shape[0], len(wide))
        out.append(pool)
    return out
