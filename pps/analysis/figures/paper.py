"""The figures of `pps plot` (seaborn on matplotlib's Agg backend).

Every figure names its statistic, the number of seeds and the CI method on the canvas, uses
one colour per method (`pps.analysis.render.style`), and is always drawn: when the data cannot
show what a figure is for (one interval only, no baseline, no wall-clock) the canvas says why.
Learning curves and final performance show each PPS method at the claims interval (the
authors' K = 300, or the nearest K that ran: `pps.analysis.data.cells.chosen_cells`); the
forest plots (across maps, probability of improvement) and the interval-sensitivity figure
show every K.

The figures draw what they are given: every interval on a canvas is a column of a table
(`stats.csv`, `across_maps.csv`, `speedup.csv`) or was computed by
`pps.analysis.stats.figure_data` (learning-curve bands, wall-clock medians).
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from pps.analysis.data import scores
from pps.analysis.data.cells import cell_label, cell_mask, cells, chosen_mask, has_interval, method_label, method_rank
from pps.analysis.data.scores import SCORE
from pps.analysis.render import tables as T
from pps.analysis.render.style import method_color
from pps.analysis.stats.bootstrap import CI_METHOD, STRATIFIED_CI_METHOD
from pps.analysis.stats.estimators import iqm_small_n_note
from pps.analysis.stats.figure_data import BAND_CI, WALL_CI, CurveBands
from pps.methods import AGGREGATING_METHODS

# A zero-width CI (all values equal, or complete separation at n = 3) is drawn as an open
# marker with no bar, so it cannot be read as a very precise estimate.
DEGENERATE_NOTE = "Open marker: zero-width CI (every resample gave the same value at this n), not certainty."
SUPTITLE = dict(fontsize=11, fontweight="bold")
NOTE = dict(fontsize=8.5, color="0.3")


def _style():
    return sns.axes_style("whitegrid", {"grid.color": "0.9"})


def steps_formatter():
    return FuncFormatter(lambda x, _: T.steps(x) if x else "0")


def n_text(counts) -> str:
    counts = [int(c) for c in counts if T.finite(c)]
    if not counts:
        return "n = 0 seeds"
    lo, hi = min(counts), max(counts)
    if lo == hi:
        return f"n = {lo} seed per method (no CI)" if lo == 1 else f"n = {lo} seeds per method"
    return f"n = {lo}–{hi} seeds per method"


def _map_title(env, map_, envs) -> str:
    return map_ if len(envs) <= 1 else f"{env} / {map_}"


def _grid(n_panels: int, ncols: int = 3, size=(4.2, 3.2), sharey=True, sharex=False, extra_h: float = 1.3):
    """Panels of `size` inches each plus `extra_h` inches for the header and a legend."""
    ncols = max(1, min(ncols, n_panels))
    nrows = int(np.ceil(n_panels / ncols))
    figsize = (max(7.0, size[0] * ncols), size[1] * nrows + extra_h)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, sharey=sharey, sharex=sharex)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n_panels])


def _header(fig, title: str, note: str, bottom_in: float = 0.0):
    """Title and the n/CI note above the panels, laid out in inches so short figures keep a tight header.
    `bottom_in` reserves space below the panels (for a figure legend)."""
    h = fig.get_figheight()
    fig.suptitle(title, y=1 - 0.08 / h, va="top", **SUPTITLE)
    fig.text(0.5, 1 - 0.34 / h, note, ha="center", va="top", wrap=True, **NOTE)
    fig.tight_layout(rect=(0, bottom_in / h, 1, 1 - 0.78 / h))


def empty_figure(title: str, message: str):
    with _style():
        fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=11, wrap=True, transform=ax.transAxes)
    fig.suptitle(title, **SUPTITLE)
    return fig


def _legend_below(fig, handles, labels, ncol=6):
    fig.legend(handles, labels, loc="lower center", ncol=min(ncol, len(labels)), frameon=False,
               bbox_to_anchor=(0.5, 0.0), fontsize=9)


# --------------------------------------------------------------------------- task families
def _families(maps, kinds: dict) -> list[tuple[str, list]]:
    """[(score kind, its (env, map) pairs)] in figure order: each family gets its own panels."""
    order = scores.ordered_kinds(kinds.get(t) for t in maps)
    return [(kind, [t for t in maps if kinds.get(t) == kind]) for kind in order]


def _family_grid(families: list[tuple[str, list]], ncols: int = 3, size=(4.2, 3.2), extra_h: float = 1.3):
    """One panel per task, each family starting a new row (its own y axis and label):
    -> figure, {(env, map): axes}, [(kind, axes of its first column)]."""
    ncols = max(1, min(ncols, max(len(ts) for _, ts in families)))
    rows_per = [int(np.ceil(len(ts) / ncols)) for _, ts in families]
    nrows = sum(rows_per)
    figsize = (max(7.0, size[0] * ncols), size[1] * nrows + extra_h)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
    where, first_col, row0 = {}, [], 0
    for (kind, tasks), n_rows in zip(families, rows_per):
        for i, task in enumerate(tasks):
            where[task] = axes[row0 + i // ncols, i % ncols]
        for r in range(n_rows):
            first_col.append((kind, axes[row0 + r, 0]))
        for j in range(len(tasks), n_rows * ncols):
            axes[row0 + j // ncols, j % ncols].set_visible(False)
        row0 += n_rows
    return fig, where, first_col


def _score_axis(axes, kind: str, axis: str = "y", values=(), pad: float = 0.03) -> None:
    """Limits of a family's score axis, the same on all its panels: [0, 1] for a win rate; for
    a normalised return the span of the data and of [0, 1], with dotted lines at 0 (random
    policy) and 1 (reference policy), since it can fall below 0 or exceed 1."""
    if kind == scores.WIN_RATE:
        lo, hi = -pad, 1 + pad
    else:
        v = np.asarray([x for x in values if T.finite(x)], float)
        lo, hi = min(0.0, v.min()) if v.size else 0.0, max(1.0, v.max()) if v.size else 1.0
        span = hi - lo
        lo, hi = lo - pad * span, hi + pad * span
    for ax in axes:
        (ax.set_ylim if axis == "y" else ax.set_xlim)(lo, hi)
        if kind != scores.WIN_RATE:
            for ref in (0.0, 1.0):
                (ax.axhline if axis == "y" else ax.axvline)(ref, color="0.55", ls=":", lw=0.9, zorder=0)


def _title_word(kinds) -> str:
    """'test win rate', 'normalised score' or 'score' for a figure title."""
    present = scores.ordered_kinds(kinds)
    return scores.label(present[0]) if len(present) == 1 else "score"


def _score_note(kinds) -> str:
    present = set(kinds)
    return "" if present <= {scores.WIN_RATE} else " " + scores.describe(present)


# --------------------------------------------------------------------------- learning curves
def learning_curves(bands: CurveBands, kinds: dict[tuple[str, str], str], chosen: dict[str, int | None],
                    claims_interval: int) -> Figure:
    """IQM curves with their bootstrap bands (`figure_data.learning_curve_bands`), one panel per
    map, each task family (`kinds`: (env, map) -> score kind) in its own rows."""
    metric = bands.metric
    if not bands.found:
        return empty_figure("Learning curves", f"no '{metric}' values in curves.csv")
    maps = bands.tasks
    envs = {e for e, _ in maps}
    families = _families(maps, kinds)
    counts, handles = [], {}
    with _style():
        fig, where, first_col = _family_grid(families, extra_h=1.4)
        drawn = {}  # family -> every plotted value (its shared y limits)
        for kind, tasks in families:
            for env, map_ in tasks:
                ax = where[(env, map_)]
                for (method, interval), band in bands.bands[(env, map_)].items():
                    counts.append(band.n)
                    color = method_color(method)
                    (line,) = ax.plot(band.steps, band.iqm, color=color, lw=1.8, label=cell_label(method, interval))
                    if np.isfinite(band.low).any():
                        ax.fill_between(band.steps, band.low, band.high, color=color, alpha=0.18, lw=0)
                    handles.setdefault(cell_label(method, interval), line)
                    drawn.setdefault(kind, []).extend(np.r_[band.iqm, band.low, band.high].tolist())
                ax.set_title(_map_title(env, map_, envs), fontsize=10)
                ax.xaxis.set_major_formatter(steps_formatter())
                ax.set_xlabel("environment steps")
            _score_axis([where[t] for t in tasks], kind if metric == scores.SCORE_METRIC else scores.WIN_RATE,
                        values=drawn.get(kind, ()), pad=0.02)
        for kind, ax in first_col:
            ax.set_ylabel(f"{scores.label(kind) if metric == scores.SCORE_METRIC else metric} (IQM)")
        _legend_below(fig, list(handles.values()), list(handles))
        k_note = (f"PPS methods at K = {claims_interval} learner updates (or the nearest K run). "
                  if any(m in AGGREGATING_METHODS for m in chosen) else "")
        present = [kinds[t] for t in maps]
        _header(fig, f"Learning curves: {_title_word(present)}",
                f"IQM over seeds, {n_text(counts)}; band: {BAND_CI} of the IQM. "
                f"{k_note}Runs linearly interpolated onto a common step grid, not extrapolated.{_score_note(present)}",
                bottom_in=0.45)
    return fig


# --------------------------------------------------------------------------- final performance
def final_performance(final: pd.DataFrame, stats: pd.DataFrame, chosen: dict[str, int | None],
                      claims_interval: int) -> Figure:
    """Per map, each chosen cell's runs (dots) and its IQM with the CI of `stats.csv`."""
    f = final[chosen_mask(final, chosen)]
    s = stats[chosen_mask(stats, chosen)]
    maps = sorted({(e, m) for e, m in zip(f["env"], f["map"])})
    envs = {e for e, _ in maps}
    kinds = scores.task_kinds(final)
    families = _families(maps, kinds)
    shown = cells(f)
    width = 0.8 / max(1, len(shown))
    with _style():
        per_map = 1.4 * max(1, len(shown)) * 0.45
        width_in = max(6.5, per_map * len(maps) + 2 + 1.2 * (len(families) - 1))
        ratios = [max(1, len(ts)) for _, ts in families]
        fig, axes = plt.subplots(1, len(families), figsize=(width_in, 4.2), squeeze=False,
                                 gridspec_kw={"width_ratios": ratios})
        rng = np.random.default_rng(0)
        degenerate, labelled = False, set()
        for ax, (kind, tasks) in zip(axes[0], families):
            drawn = []
            for j, (method, interval) in enumerate(shown):
                color = method_color(method)
                for i, (env, map_) in enumerate(tasks):
                    x0 = i - 0.4 + width * (j + 0.5)
                    sel = (f["env"] == env) & (f["map"] == map_) & cell_mask(f, method, interval)
                    ys = f.loc[sel, SCORE].to_numpy(float)
                    if ys.size == 0:
                        continue
                    drawn.extend(ys.tolist())
                    jitter = rng.uniform(-width * 0.25, width * 0.25, ys.size)
                    ax.scatter(x0 + jitter, ys, s=12, color=color, alpha=0.45, lw=0)
                    r = s[(s["env"] == env) & (s["map"] == map_) & cell_mask(s, method, interval)]
                    if not r.empty:
                        r = r.iloc[0]
                        label = cell_label(method, interval)
                        label = None if label in labelled else label
                        labelled.add(label)
                        drawn.extend([r["iqm_ci_low"], r["iqm_ci_high"]])
                        if is_degenerate(r["iqm_ci_low"], r["iqm_ci_high"]):
                            degenerate = True
                            ax.plot([x0], [r["iqm"]], "D", color=color, mfc="white", mew=1.6, ms=6, label=label)
                            continue
                        yerr = None
                        if T.finite(r["iqm_ci_low"]):
                            yerr = [[r["iqm"] - r["iqm_ci_low"]], [r["iqm_ci_high"] - r["iqm"]]]
                        ax.errorbar([x0], [r["iqm"]], yerr=yerr, fmt="D", color=color, ms=5, capsize=3, lw=1.5,
                                    label=label)
            ax.set_xticks(range(len(tasks)), [_map_title(e, m, envs) for e, m in tasks])
            ax.set_xlim(-0.6, len(tasks) - 0.4)
            _score_axis([ax], kind, values=drawn)
            ax.set_ylabel(f"final {scores.label(kind)}")
        handles, labels = [], []
        for ax in axes[0]:
            h, lab = ax.get_legend_handles_labels()
            handles += h
            labels += lab
        axes[0, -1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=9)
        fw = f["final_window"].max() if "final_window" in f else None
        small_n = iqm_small_n_note(s["n"])
        present = [kinds[t] for t in maps]
        _header(fig, "Final performance per map",
                f"Diamonds: IQM with {CI_METHOD}; dots: one run each (mean of its last "
                f"{int(fw) if T.finite(fw) else 'few'} "
                f"evaluations); {n_text(s['n'])}. PPS methods at K = {claims_interval} (or the nearest K run)."
                + (f" {small_n}" if small_n else "")
                + (" Open diamond: zero-width CI, not certainty." if degenerate else "")
                + _score_note(present))
    return fig


# --------------------------------------------------------------------------- interval sensitivity
def interval_sensitivity(stats: pd.DataFrame, speed: pd.DataFrame) -> Figure:
    pps = stats[stats["method"].isin(AGGREGATING_METHODS) & stats["interval"].notna()]
    ks = sorted(set(int(k) for k in pps["interval"]))
    per_method = pps.groupby("method")["interval"].nunique()
    if len(ks) < 2 or per_method.max() < 2:
        found = f"this run has K = {', '.join(map(str, ks))}" if ks else "this run has no PPS method"
        return empty_figure("Interval sensitivity",
                            f"Interval sensitivity needs a PPS method run at ≥ 2 intervals K;\n{found}.")
    thr = min(speed["threshold"]) if not speed.empty else None
    kinds = scores.task_kinds(stats)
    maps = [t for _, tasks in _families(sorted(kinds), kinds) for t in tasks]  # grouped by family
    envs = {e for e, _ in maps}
    handles = {}
    degenerate = False
    with _style():
        fig, axes = plt.subplots(len(maps), 2, figsize=(10, 3.0 * len(maps) + 0.6), squeeze=False, sharex=True)
        for row, (env, map_) in enumerate(maps):
            ax_s, ax_t = axes[row]
            kind = kinds[(env, map_)]
            st = stats[(stats["env"] == env) & (stats["map"] == map_)]
            if thr is None:
                sp = speed.iloc[0:0]
            else:
                sp = speed[(speed["env"] == env) & (speed["map"] == map_) & (speed["threshold"] == thr)]
            for method in [m for m in AGGREGATING_METHODS if m in set(st["method"])]:
                color = method_color(method)
                c = st[(st["method"] == method) & st["interval"].notna()].sort_values("interval")
                k = c["interval"].to_numpy(float)
                yerr = np.vstack([c["iqm"] - c["iqm_ci_low"], c["iqm_ci_high"] - c["iqm"]]).astype(float)
                h = ax_s.errorbar(k, c["iqm"].to_numpy(float), yerr=np.nan_to_num(yerr), fmt="o-", color=color,
                                  capsize=3, ms=4)
                handles.setdefault(method_label(method), h)
                deg = np.array([is_degenerate(lo, hi) for lo, hi in zip(c["iqm_ci_low"], c["iqm_ci_high"])], bool)
                if deg.any():
                    degenerate = True
                    ax_s.plot(k[deg], c["iqm"].to_numpy(float)[deg], "s", color=color, mfc="white", mew=1.6, ms=8)
                d = sp[(sp["method"] == method) & sp["interval"].notna()].sort_values("interval")
                if not d.empty:
                    cens = d["median_censored"].to_numpy(bool)
                    kk, yy = d["interval"].to_numpy(float), d["median_steps"].to_numpy(float)
                    ax_t.plot(kk, yy, "-", color=color, lw=1.2)
                    ax_t.plot(kk[~cens], yy[~cens], "o", color=color, ms=5)
                    ax_t.plot(kk[cens], yy[cens], "^", color=color, mfc="white", ms=6)
            for method in [m for m in st["method"].unique() if m not in AGGREGATING_METHODS]:
                color = method_color(method)
                r = st[st["method"] == method].iloc[0]
                h = ax_s.axhline(r["iqm"], color=color, ls="--", lw=1.2)
                handles.setdefault(f"{method_label(method)} (no aggregation)", h)
                b = sp[sp["method"] == method]
                if not b.empty:
                    ax_t.axhline(b["median_steps"].iloc[0], color=color, ls="--", lw=1.2)
            ax_s.set_xscale("log")
            _score_axis([ax_s], kind, values=np.r_[st["iqm"], st["iqm_ci_low"], st["iqm_ci_high"]].astype(float))
            ax_s.set_ylabel(f"final {scores.label(kind)} (IQM)")
            ax_t.set_ylabel(f"median steps to {thr:g}" if thr is not None else "steps")
            ax_t.yaxis.set_major_formatter(steps_formatter())
            title = _map_title(env, map_, envs)
            word = scores.short([kind])
            ax_s.set_title(f"{title}: final {word}", fontsize=10)
            ax_t.set_title(f"{title}: steps to {word} ≥ {thr:g} (smoothed)" if thr is not None else title, fontsize=10)
        for ax in axes[-1]:
            ax.set_xlabel("aggregation interval K (learner updates, log scale)")
            ax.set_xticks(ks, [str(k) for k in ks])
            ax.minorticks_off()
        _legend_below(fig, list(handles.values()), list(handles), ncol=4)
        _header(fig, "Sensitivity to the aggregation interval K",
                f"Left: IQM of the final {scores.short(kinds.values())} with {CI_METHOD}; right: median steps to the "
                f"threshold over seeds (open triangle: the Kaplan-Meier median is not reached, a lower bound). Dashed: "
                f"methods without aggregation. {n_text(stats['n'])}."
                + (" Open square: zero-width CI, not certainty." if degenerate else "") + _score_note(kinds.values()),
                bottom_in=0.55)
    return fig


# --------------------------------------------------------------------------- forest plots
def is_degenerate(lo, hi) -> bool:
    return bool(T.degenerate_mark(lo, hi))


def _forest(ax, labels, points, lows, highs, colors, ref=None) -> bool:
    """Point and CI bar per row; a zero-width CI gets an open marker. Returns whether any did."""
    y = np.arange(len(labels))[::-1]
    degenerate = False
    for yi, p, lo, hi, c in zip(y, points, lows, highs, colors):
        if not T.finite(p):
            continue
        if is_degenerate(lo, hi):
            degenerate = True
            ax.plot([p], [yi], "o", color=c, mfc="white", mew=1.8, ms=8)
            continue
        if T.finite(lo) and T.finite(hi):
            ax.plot([lo, hi], [yi, yi], color=c, lw=3, alpha=0.55, solid_capstyle="butt")
        ax.plot([p], [yi], "o", color=c, ms=6)
    ax.set_yticks(y, labels)
    if ref is not None:
        ax.axvline(ref, color="0.4", ls=":", lw=1)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    return degenerate


_POOL_TITLES = {"all": "all tasks", scores.WIN_RATE: "tasks with a win condition",
                scores.NORMALISED_RETURN: "tasks scored by normalised return"}


def _pools(across: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """[(tasks, score kind, rows)] of across_maps.csv, "all" first (a file without the columns
    is one pool of win rates, as before there were task families)."""
    if "tasks" not in across:
        return [("all", scores.WIN_RATE, across)]
    return [(tasks, str(g["score_kind"].iloc[0]), g) for tasks, g in across.groupby("tasks", sort=False)]


def across_maps(across: pd.DataFrame, baseline: str) -> Figure:
    """Forest plots of `across_maps.csv`: each cell's IQM pooled over maps and its difference to
    the baseline, with their stratified CIs."""
    if across.empty:
        return empty_figure("Aggregate across maps", "no runs")
    pools = _pools(across)
    has_cmp = across["diff"].notna().any()
    n_rows = max(len(g) for _, _, g in pools)
    degenerate = False
    with _style():
        figsize = (11 if has_cmp else 6.5, (1.5 + 0.42 * n_rows) * len(pools) + 0.4)
        fig, axes = plt.subplots(len(pools), 2 if has_cmp else 1, figsize=figsize, squeeze=False)
        for (tasks, kind, g), row in zip(pools, axes):
            labels = [cell_label(m, k if has_interval(k) else None) for m, k in zip(g["method"], g["interval"])]
            colors = [method_color(m) for m in g["method"]]
            ax = row[0]
            degenerate |= _forest(ax, labels, g["iqm"], g["iqm_ci_low"], g["iqm_ci_high"], colors)
            what = scores.label(kind) if kind in scores.KINDS else "score (win rate or normalised return)"
            ax.set_xlabel(f"IQM of the final {what}")
            _score_axis([ax], kind if kind in scores.KINDS else scores.NORMALISED_RETURN, axis="x",
                        values=np.r_[g["iqm"], g["iqm_ci_low"], g["iqm_ci_high"]].astype(float), pad=0.02)
            if len(pools) > 1:
                ax.set_title(f"{_POOL_TITLES.get(tasks, tasks)} ({int(g['n_total_maps'].max())} map(s))", fontsize=10)
            if has_cmp:
                ax2 = row[1]
                degenerate |= _forest(ax2, labels, g["diff"], g["diff_ci_low"], g["diff_ci_high"], colors, ref=0.0)
                points = scores.short([kind]).replace(" ", "-")
                ax2.set_xlabel(f"difference of IQM to {method_label(baseline)} ({points} points)")
                ax2.sharey(ax)
                ax2.tick_params(labelleft=False)
        maps = int(across["n_total_maps"].max())
        n_runs = across["n_runs"]
        runs = f"{int(n_runs.min())}–{int(n_runs.max())}" if n_runs.nunique() > 1 else str(int(n_runs.iloc[0]))
        kinds = [k for _, k, _ in pools if k in scores.KINDS] or [scores.NORMALISED_RETURN]
        per_family = " Rows: all tasks pooled, then each task family alone." if len(pools) > 1 else ""
        _header(fig, f"Aggregate over {maps} map(s)",
                f"IQM of all runs pooled over maps ({runs} runs per method, i.e. seeds × maps) with a "
                f"{STRATIFIED_CI_METHOD}: seeds resampled within each map.{per_family} {scores.describe(kinds)}"
                + (f" {DEGENERATE_NOTE}" if degenerate else ""))
    return fig


def probability_of_improvement(stats: pd.DataFrame, across: pd.DataFrame, baseline: str) -> Figure:
    cmp_ = stats[stats["prob_improvement"].notna()]
    if cmp_.empty:
        return empty_figure("Probability of improvement",
                            f"No comparison with the baseline {method_label(baseline)}: it has no runs on any map\n"
                            f"shared with another method (pps stats --baseline picks it).")
    maps = sorted({(e, m) for e, m in zip(cmp_["env"], cmp_["map"])})
    envs = {e for e, _ in maps}
    pooled = across[across["tasks"] == "all"] if "tasks" in across else across
    panels = ([("all maps", pooled[pooled["prob_improvement"].notna()])] if len(maps) > 1 else []) + [
        (_map_title(e, m, envs), cmp_[(cmp_["env"] == e) & (cmp_["map"] == m)]) for e, m in maps]
    shown = cells(cmp_)
    labels = [cell_label(m, k) for m, k in shown]
    colors = [method_color(m) for m, _ in shown]
    with _style():
        ncols = min(3, len(panels))
        nrows = int(np.ceil(len(panels) / ncols))
        h = 1.2 + 0.34 * len(shown)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.0 * ncols + 1.2, h * nrows + 1.0), squeeze=False,
                                 sharey=True, sharex=True)
        for ax in axes.flat[len(panels):]:
            ax.set_visible(False)
        degenerate = False
        for ax, (title, df) in zip(axes.flat, panels):
            pts, los, his = [], [], []
            for m, k in shown:
                r = df[cell_mask(df, m, k)]
                r = r.iloc[0] if not r.empty else None
                pts.append(r["prob_improvement"] if r is not None else np.nan)
                los.append(r["pi_ci_low"] if r is not None else np.nan)
                his.append(r["pi_ci_high"] if r is not None else np.nan)
            degenerate |= _forest(ax, labels, pts, los, his, colors, ref=0.5)
            ax.set_xlim(-0.03, 1.03)
            ax.set_title(title + (" (mean over maps)" if title == "all maps" else ""), fontsize=10)
            ax.set_xlabel(f"P(method > {method_label(baseline)})")
        _header(fig, f"Probability of improvement over {method_label(baseline)}",
                f"P(X > Y) + P(X = Y)/2 for the final {scores.short(scores.task_kinds(cmp_).values())} of a random "
                f"run X of the method and Y of "
                f"{method_label(baseline)} on the same map (= Mann-Whitney U / (n_x n_y)); {n_text(cmp_['n'])}; "
                f"{CI_METHOD} per map, stratified over maps for 'all maps'. 0.5 = no difference."
                + (f" {DEGENERATE_NOTE}" if degenerate else ""))
    return fig


# --------------------------------------------------------------------------- wall-clock
def wallclock(runs: pd.DataFrame, medians: dict[tuple[str, str, str], tuple[float, float, float]]) -> Figure:
    """Per map, each method's runs (`figure_data.wallclock_runs`: hours per million env steps)
    and their median with its CI (`figure_data.wallclock_medians`)."""
    f = runs
    if f.empty:
        return empty_figure("Wall-clock cost per method",
                            "no run recorded its wall-clock time (run.json wall_s and metrics wall_s are empty)")
    maps = sorted({(e, m) for e, m in zip(f["env"], f["map"])})
    envs = {e for e, _ in maps}
    methods = sorted(set(f["method"]), key=lambda m: (method_rank(m), m))
    counts = []
    with _style():
        fig, axes = _grid(len(maps), ncols=3, size=(4.2, 1.1 + 0.45 * len(methods)), sharey=True, extra_h=0.9)
        for ax, (env, map_) in zip(axes, maps):
            sub = f[(f["env"] == env) & (f["map"] == map_)]
            for y, method in enumerate(methods[::-1]):
                x = sub.loc[sub["method"] == method, "hours"].to_numpy(float)
                if x.size == 0:
                    continue
                counts.append(x.size)
                color = method_color(method)
                jit = np.random.default_rng(y).uniform(-0.15, 0.15, x.size)
                ax.scatter(x, y + jit, s=12, color=color, alpha=0.5, lw=0)
                med, lo, hi = medians[(env, map_, method)]
                if np.isfinite(lo) and np.isfinite(hi):
                    ax.plot([lo, hi], [y, y], color=color, lw=3, alpha=0.6)
                ax.plot([med], [y], "D", color=color, ms=6)
            ax.set_yticks(range(len(methods)), [method_label(m) for m in methods[::-1]])
            ax.set_title(_map_title(env, map_, envs), fontsize=10)
            ax.set_xlabel("hours per million env steps")
            ax.set_xlim(0, 1.12 * max(1e-9, float(f["s_per_million_steps"].max()) / 3600))
        devices = f.get("device", pd.Series(["?"] * len(f))).fillna("?")
        n_envs = f.get("n_envs", pd.Series([np.nan] * len(f))).fillna(-1)
        dev = sorted({f"{d}, n_envs={int(n)}" for d, n in zip(devices, n_envs)})
        dev_text = "; ".join(d.replace("n_envs=-1", "n_envs=?") for d in dev)
        _header(fig, "Wall-clock cost per method",
                f"Diamond: median over runs (all intervals K pooled) with a {WALL_CI}; "
                f"dots: one run each; n = {min(counts)}–{max(counts)} runs per method. Hardware: {dev_text}.")
    return fig


def all_figures(*, final: pd.DataFrame, stats: pd.DataFrame, across: pd.DataFrame, speed: pd.DataFrame,
                bands: CurveBands, wall_runs: pd.DataFrame,
                wall_medians: dict[tuple[str, str, str], tuple[float, float, float]],
                chosen: dict[str, int | None], baseline: str, claims_interval: int) -> dict[str, Callable[[], Figure]]:
    """name -> a function drawing that figure, for every FIGURE_NAMES entry (drawn by the caller)."""
    kinds = scores.task_kinds(final)
    return {
        "learning_curves": lambda: learning_curves(bands, kinds, chosen, claims_interval),
        "final_performance": lambda: final_performance(final, stats, chosen, claims_interval),
        "interval_sensitivity": lambda: interval_sensitivity(stats, speed),
        "across_maps": lambda: across_maps(across, baseline),
        "probability_of_improvement": lambda: probability_of_improvement(stats, across, baseline),
        "wallclock": lambda: wallclock(wall_runs, wall_medians),
    }
