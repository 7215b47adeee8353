"""The across-map views of Agarwal et al. (2021) ("Deep RL at the edge of the statistical
precipice", rliable): interval estimates of four statistics, performance profiles and
sample-efficiency curves.

Each draws, per pool of tasks of `across_maps.csv` (all tasks; each score family alone when
both are present), one line or row per method at the cell it is shown at (the claims interval
K or the nearest K run, as the learning curves). The numbers come from the statistics layer:
the estimates and their stratified CIs are columns of `across_maps.csv`
(`pps.analysis.stats.tables`), the profiles and curves with their bands are computed by
`pps.analysis.stats.figure_data`; nothing here resamples.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pps.analysis.data import scores
from pps.analysis.data.cells import cell_label, chosen_mask
from pps.analysis.figures.layout import Size, drawing, empty_figure, finish, legend_below, new_figure
from pps.analysis.figures.panels import (
    DEGENERATE_NOTE,
    POOL_TITLES,
    few_ticks,
    fitted,
    forest,
    legend_rows_in,
    mark_every,
    pool_kind,
    score_axis,
    steps_formatter,
)
from pps.analysis.render.style import method_style
from pps.analysis.stats.bootstrap import STRATIFIED_CI_METHOD
from pps.analysis.stats.estimators import OPTIMALITY_TARGET
from pps.analysis.stats.figure_data import EfficiencyPool, ProfilePool

METRICS: tuple[tuple[str, str], ...] = (
    ("median", "Median"), ("iqm", "IQM"), ("mean", "Mean"), ("optimality_gap", "Optimality gap"))


def _pool_title(tasks: str, n_maps: int) -> str:
    return f"{POOL_TITLES.get(tasks, tasks)} ({n_maps} map{'s' if n_maps != 1 else ''})"


def _k_note(claims_interval: int) -> str:
    return f"PPS methods at K = {claims_interval} learner updates (or the nearest K run)."


# --------------------------------------------------------------------------- four estimates
def across_maps_estimates(across: pd.DataFrame, chosen: dict[str, int | None], claims_interval: int, *, size: Size,
                      annotate: bool = False) -> Figure:
    """Median, IQM, mean and optimality gap across maps with their stratified CIs, one row per
    method, one row of panels per pool of tasks (two rows of two in a column)."""
    title = "Median, IQM, mean and optimality gap across maps"
    missing = [c for name, _ in METRICS for c in (name, f"{name}_ci_low", f"{name}_ci_high") if c not in across]
    if missing:
        return empty_figure(size, f"across_maps.csv has no {missing[0]} column: it was written by an older "
                                  f"`pps stats`; run it again.", annotate=annotate, title=title)
    rows = across[chosen_mask(across, chosen)]
    if rows.empty:
        return empty_figure(size, "no runs", annotate=annotate, title=title)
    pools = [(tasks, str(g["score_kind"].iloc[0]), g) for tasks, g in rows.groupby("tasks", sort=False)] \
        if "tasks" in rows else [("all", scores.WIN_RATE, rows)]
    per_row = 2 if size.column else 4
    n_methods = max(len(g) for _, _, g in pools)
    degenerate = False
    with drawing():
        fig, axes = new_figure(size, len(pools) * (4 // per_row), per_row,
                               (0.5 + 0.15 * n_methods) if size.column else (0.62 + 0.19 * n_methods))
        for p, (tasks, _kind, g) in enumerate(pools):
            labels = [cell_label(m, k) for m, k in zip(g["method"], g["interval"])]
            styles = [method_style(m) for m in g["method"]]
            for i, (name, label) in enumerate(METRICS):
                ax = axes[p * (4 // per_row) + i // per_row, i % per_row]
                lo, hi = g[f"{name}_ci_low"].to_numpy(float), g[f"{name}_ci_high"].to_numpy(float)
                degenerate |= forest(ax, labels, g[name], lo, hi, styles)
                values = np.r_[g[name].to_numpy(float), lo, hi]
                values = values[np.isfinite(values)]
                if values.size:
                    span = max(values.max() - values.min(), 0.05)
                    ax.set_xlim(values.min() - 0.12 * span, values.max() + 0.12 * span)
                few_ticks(ax, "x", 3)
                ax.set_title(label)
                if i % per_row:
                    ax.sharey(axes[p * (4 // per_row) + i // per_row, 0])
                    ax.tick_params(labelleft=False)
            if len(pools) > 1:  # which pool a row of panels shows, beside the method names
                for r in range(4 // per_row):
                    ax = axes[p * (4 // per_row) + r, 0]
                    ax.set_ylabel(fitted(_pool_title(tasks, int(g["n_total_maps"].max())), 0.62 + 0.19 * len(g)))
    kinds = [k for _, k, _ in pools if k in scores.KINDS] or [scores.NORMALISED_RETURN]
    return finish(fig, size, annotate=annotate, title=title,
                  note=f"Median over maps of each map's mean score; IQM and mean of all runs pooled over maps; "
                       f"optimality gap = mean of max({OPTIMALITY_TARGET:g} − score, 0). {STRATIFIED_CI_METHOD}: runs "
                       f"resampled within each map, the same resamples for all four. {_k_note(claims_interval)} "
                       f"{scores.describe(kinds)}" + (f" {DEGENERATE_NOTE}" if degenerate else ""))


# --------------------------------------------------------------------------- curves per pool
def _pool_grid(n_pools: int, size: Size, labels: list[str]):
    """One panel per pool: side by side across the text width, stacked in a column."""
    ncols = size.cols(n_pools, full=3, column=1)
    nrows = int(np.ceil(n_pools / ncols))
    panel_h = 2.0 if size.column else (2.3 if ncols > 1 else 2.6)
    fig, axes = new_figure(size, nrows, ncols, panel_h, extra_h=legend_rows_in(labels, size))
    for ax in axes.flat[n_pools:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n_pools])


def _descent_marks(fraction: np.ndarray, index: int, marks: int = 4) -> list[int]:
    """Marker positions on the part of a profile that falls from 1 to 0, where the lines of
    different methods part (on the flat ends every method's markers would sit on one another),
    shifted per line (`index`)."""
    inner = np.flatnonzero((fraction > 0.03) & (fraction < 0.97))
    if inner.size == 0:
        return []
    picks = np.linspace(0, inner.size - 1, marks + 2)[1:-1] + (index % 3 - 1) * inner.size / (3 * (marks + 1))
    return sorted({int(inner[int(np.clip(round(p), 0, inner.size - 1))]) for p in picks})


def performance_profiles(pools: list[ProfilePool], claims_interval: int, *, size: Size,
                         annotate: bool = False) -> Figure:
    """Per pool of tasks, each method's fraction of runs with a final score above tau against
    tau, with its pointwise stratified bootstrap band."""
    title = "Performance profiles across maps"
    pools = [p for p in pools if p.profiles]
    if not pools:
        return empty_figure(size, "no runs with a final score", annotate=annotate, title=title)
    labels = list(dict.fromkeys(cell_label(m, k) for p in pools for m, k in p.profiles))
    handles = {}
    ns = [pr.n for p in pools for pr in p.profiles.values()]
    with drawing():
        fig, axes = _pool_grid(len(pools), size, labels)
        for ax, pool in zip(axes, pools):
            for i, ((method, interval), pr) in enumerate(pool.profiles.items()):
                st = method_style(method)
                (line,) = ax.plot(pool.taus, pr.fraction, color=st.color, ls=st.linestyle, marker=st.marker, ms=3.5,
                                  markevery=_descent_marks(pr.fraction, i), label=cell_label(method, interval))
                if np.isfinite(pr.low).any():
                    ax.fill_between(pool.taus, pr.low, pr.high, color=st.color, alpha=0.15, lw=0)
                handles.setdefault(cell_label(method, interval), line)
            word = scores.label(pool.kind) if pool.kind in scores.KINDS else "score"
            ax.set_xlabel(f"{word} τ")
            ax.set_ylabel("fraction of runs > τ")
            ax.set_ylim(-0.02, 1.02)
            score_axis([ax], pool_kind(pool.kind), axis="x", values=pool.taus, pad=0.0)
            if len(pools) > 1:
                ax.set_title(_pool_title(pool.tasks, pool.n_maps))
        legend_below(fig, list(handles.values()), list(handles), size)
    kinds = [p.kind for p in pools if p.kind in scores.KINDS] or [scores.NORMALISED_RETURN]
    return finish(fig, size, annotate=annotate, title=title,
                  note=f"Fraction of a method's runs, pooled over maps, whose final score exceeds τ ({min(ns)}–"
                       f"{max(ns)} runs = seeds × maps); band: pointwise {STRATIFIED_CI_METHOD}, runs resampled within "
                       f"each map. {_k_note(claims_interval)} {scores.describe(kinds)}")


def sample_efficiency(pools: list[EfficiencyPool], claims_interval: int, *, size: Size,
                      annotate: bool = False) -> Figure:
    """Per pool of tasks, each method's IQM across maps of the score against environment
    steps, with its pointwise stratified bootstrap band."""
    title = "Sample efficiency across maps"
    pools = [p for p in pools if p.curves]
    if not pools:
        return empty_figure(size, "no learning curves that every run of a method reaches on every map",
                            annotate=annotate, title=title)
    labels = list(dict.fromkeys(cell_label(m, k) for p in pools for m, k in p.curves))
    handles = {}
    ns = [c.n for p in pools for c in p.curves.values()]
    with drawing():
        fig, axes = _pool_grid(len(pools), size, labels)
        for ax, pool in zip(axes, pools):
            drawn = []
            for i, ((method, interval), c) in enumerate(pool.curves.items()):
                st = method_style(method)
                (line,) = ax.plot(c.steps, c.iqm, color=st.color, ls=st.linestyle, marker=st.marker, ms=3.5,
                                  markevery=mark_every(len(c.steps), i), label=cell_label(method, interval))
                if np.isfinite(c.low).any():
                    ax.fill_between(c.steps, c.low, c.high, color=st.color, alpha=0.15, lw=0)
                handles.setdefault(cell_label(method, interval), line)
                drawn.extend(np.r_[c.iqm, c.low, c.high].tolist())
            word = scores.label(pool.kind) if pool.kind in scores.KINDS else "score"
            ax.set_ylabel(f"IQM {word}")
            ax.set_xlabel("environment steps")
            ax.xaxis.set_major_formatter(steps_formatter())
            score_axis([ax], pool_kind(pool.kind), values=drawn, pad=0.02)
            if len(pools) > 1:
                ax.set_title(_pool_title(pool.tasks, pool.n_maps))
        legend_below(fig, list(handles.values()), list(handles), size)
    kinds = [p.kind for p in pools if p.kind in scores.KINDS] or [scores.NORMALISED_RETURN]
    return finish(fig, size, annotate=annotate, title=title,
                  note=f"IQM over every run of every map ({min(ns)}–{max(ns)} runs = seeds × maps) of the score at "
                       f"each step that all of a method's runs reach; runs interpolated onto each map's step grid, "
                       f"not extrapolated. Band: pointwise {STRATIFIED_CI_METHOD}, runs resampled within each map. "
                       f"{_k_note(claims_interval)} {scores.describe(kinds)}")
