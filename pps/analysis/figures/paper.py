"""The per-map figures of `pps plot` (seaborn on matplotlib's Agg backend).

Every figure is drawn at a print size (`layout.Size`: the full text width or one column, its
panels rearranged to fit), draws each method in its colour *and* its line style or marker
(`pps.analysis.render.style`), and is always drawn: when the data cannot show what a figure
is for (one interval only, no baseline, no wall-clock) the canvas says why. The statistic, n,
the CI method and the score's definition are the caption's (`workflow/report/captions/`); a
draft (`annotate=True`) also prints them above the panels. Learning curves and final
performance show each PPS method at the claims interval (the authors' K = 300, or the nearest
K that ran: `pps.analysis.data.cells.chosen_cells`); the forest plots (across maps,
probability of improvement) and the interval-sensitivity figure show every K. The across-map
views of Agarwal et al. (2021) are `pps.analysis.figures.across`.

The figures draw what they are given: every interval on a canvas is a column of a table
(`stats.csv`, `across_maps.csv`, `speedup.csv`) or was computed by
`pps.analysis.stats.figure_data` (learning-curve bands, wall-clock medians).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pps.analysis.data import scores
from pps.analysis.data.cells import (
    by_interval,
    cell_label,
    cell_mask,
    cells,
    chosen_mask,
    has_interval,
    method_label,
    method_rank,
    select,
)
from pps.analysis.data.scores import SCORE
from pps.analysis.figures import across as A
from pps.analysis.figures.layout import Size, drawing, empty_figure, finish, legend_below, new_figure
from pps.analysis.figures.panels import (
    DEGENERATE_NOTE,
    POOL_TITLES,
    families,
    family_grid,
    fit_cols,
    fitted,
    forest,
    is_degenerate,
    legend_rows_in,
    map_title,
    mark_every,
    n_text,
    panel_width,
    pool_kind,
    score_axis,
    score_note,
    steps_formatter,
    title_word,
    xticks_fitting,
)
from pps.analysis.render import tables as T
from pps.analysis.render.style import method_style
from pps.analysis.stats.bootstrap import CI_METHOD, STRATIFIED_CI_METHOD
from pps.analysis.stats.estimators import iqm_small_n_note
from pps.analysis.stats.figure_data import CurveBands, EfficiencyPool, ProfilePool
from pps.methods import AGGREGATING_METHODS


# --------------------------------------------------------------------------- learning curves
def learning_curves(bands: CurveBands, kinds: dict[tuple[str, str], str], chosen: dict[str, int | None],
                    claims_interval: int, *, size: Size, annotate: bool = False) -> Figure:
    """IQM curves with their bootstrap bands (`figure_data.learning_curve_bands`), one panel per
    map, each task family (`kinds`: (env, map) -> score kind) in its own rows."""
    title = "Learning curves"
    metric = bands.metric
    if not bands.found:
        return empty_figure(size, f"no '{metric}' values in curves.csv", annotate=annotate, title=title)
    maps = bands.tasks
    fams = families(maps, kinds)
    labels = list(dict.fromkeys(cell_label(m, k) for t in maps for m, k in bands.bands[t]))
    ncols = fit_cols([map_title(e, m, maps) for e, m in maps], size, 2 if size.column else 3)
    panel_h = float(np.clip(panel_width(size, ncols) * 0.78 + 0.45, 1.5, 2.3))
    counts, handles = [], {}
    with drawing():
        fig, where, first_col = family_grid(fams, size, ncols, panel_h, extra_h=legend_rows_in(labels, size))
        drawn = {}  # family -> every plotted value (its shared y limits)
        for kind, tasks in fams:
            for env, map_ in tasks:
                ax = where[(env, map_)]
                for i, ((method, interval), band) in enumerate(bands.bands[(env, map_)].items()):
                    counts.append(band.n)
                    st = method_style(method)
                    (line,) = ax.plot(band.steps, band.iqm, color=st.color, ls=st.linestyle, marker=st.marker,
                                      ms=3.5, markevery=mark_every(len(band.steps), i),
                                      label=cell_label(method, interval))
                    if np.isfinite(band.low).any():
                        ax.fill_between(band.steps, band.low, band.high, color=st.color, alpha=0.15, lw=0)
                    handles.setdefault(cell_label(method, interval), line)
                    drawn.setdefault(kind, []).extend(np.r_[band.iqm, band.low, band.high].tolist())
                ax.set_title(map_title(env, map_, maps))
                ax.xaxis.set_major_formatter(steps_formatter())
                ax.set_xlabel("environment steps")
            score_axis([where[t] for t in tasks], kind if metric == scores.SCORE_METRIC else scores.WIN_RATE,
                       values=drawn.get(kind, ()), pad=0.02)
        for kind, ax in first_col:
            ax.set_ylabel(f"{scores.label(kind) if metric == scores.SCORE_METRIC else metric} (IQM)")
        legend_below(fig, list(handles.values()), list(handles), size)
    k_note = (f"PPS methods at K = {claims_interval} learner updates (or the nearest K run). "
              if any(m in AGGREGATING_METHODS for m in chosen) else "")
    present = [kinds[t] for t in maps]
    return finish(fig, size, annotate=annotate, title=f"{title}: {title_word(present)}",
                  note=f"IQM over seeds, {n_text(counts)}; band: {CI_METHOD} of the IQM. {k_note}Runs linearly "
                       f"interpolated onto a common step grid, not extrapolated.{score_note(present)}")


# --------------------------------------------------------------------------- final performance
def final_performance(final: pd.DataFrame, stats: pd.DataFrame, chosen: dict[str, int | None],
                      claims_interval: int, *, size: Size, annotate: bool = False) -> Figure:
    """Per map, each chosen cell's runs (dots) and its IQM with the CI of `stats.csv`."""
    f = final[chosen_mask(final, chosen)]
    s = stats[chosen_mask(stats, chosen)]
    maps = sorted({(e, m) for e, m in zip(f["env"], f["map"])})
    kinds = scores.task_kinds(final)
    fams = families(maps, kinds)
    shown = cells(f)
    labels = [cell_label(m, k) for m, k in shown]
    width = 0.8 / max(1, len(shown))
    stacked = size.column and len(fams) > 1  # a column stacks the families, the text width sets them side by side
    with drawing():
        ratios = [max(1, len(ts)) for _, ts in fams]
        fig, axes = new_figure(size, len(fams) if stacked else 1, 1 if stacked else len(fams), 1.9 if size.column
                               else 2.3, extra_h=legend_rows_in(labels, size),
                               gridspec_kw=None if stacked else {"width_ratios": ratios})
        axes = axes.ravel()
        rng = np.random.default_rng(0)  # horizontal jitter of the dots only, not a statistic
        degenerate, handles = False, {}
        for ax, (kind, tasks) in zip(axes, fams):
            drawn = []
            for j, (method, interval) in enumerate(shown):
                st = method_style(method)
                label = cell_label(method, interval)
                for i, (env, map_) in enumerate(tasks):
                    x0 = i - 0.4 + width * (j + 0.5)
                    sel = (f["env"] == env) & (f["map"] == map_) & cell_mask(f, method, interval)
                    ys = f.loc[sel, SCORE].to_numpy(float)
                    if ys.size == 0:
                        continue
                    drawn.extend(ys.tolist())
                    jitter = rng.uniform(-width * 0.25, width * 0.25, ys.size)
                    ax.scatter(x0 + jitter, ys, s=6, color=st.color, alpha=0.45, lw=0)
                    r = s[(s["env"] == env) & (s["map"] == map_) & cell_mask(s, method, interval)]
                    if r.empty:
                        continue
                    r = r.iloc[0]
                    drawn.extend([r["iqm_ci_low"], r["iqm_ci_high"]])
                    if is_degenerate(r["iqm_ci_low"], r["iqm_ci_high"]):
                        degenerate = True
                        (h,) = ax.plot([x0], [r["iqm"]], st.marker, color=st.color, mfc="white", mew=1.3, ms=5.5)
                        handles.setdefault(label, h)
                        continue
                    yerr = None
                    if T.finite(r["iqm_ci_low"]):
                        yerr = [[r["iqm"] - r["iqm_ci_low"]], [r["iqm_ci_high"] - r["iqm"]]]
                    h = ax.errorbar([x0], [r["iqm"]], yerr=yerr, fmt=st.marker, color=st.color, ms=4.5, capsize=2,
                                    lw=1.2)
                    handles.setdefault(label, h)
            room = (size.width - 0.6) / len(tasks) if stacked else (size.width - 0.6 * len(fams)) / sum(ratios)
            xticks_fitting(ax, range(len(tasks)), [map_title(e, m, maps) for e, m in tasks], room)
            ax.set_xlim(-0.6, len(tasks) - 0.4)
            ax.grid(axis="x", visible=False)
            score_axis([ax], kind, values=drawn)
            ax.set_ylabel(f"final {scores.label(kind)}")
        legend_below(fig, list(handles.values()), list(handles), size)
    fw = f["final_window"].max() if "final_window" in f else None
    small_n = iqm_small_n_note(s["n"])
    present = [kinds[t] for t in maps]
    return finish(fig, size, annotate=annotate, title="Final performance per map",
                  note=f"Markers: IQM with {CI_METHOD}; dots: one run each (mean of its last "
                       f"{int(fw) if T.finite(fw) else 'few'} evaluations); {n_text(s['n'])}. PPS methods at "
                       f"K = {claims_interval} (or the nearest K run)." + (f" {small_n}" if small_n else "")
                       + (" Open marker: zero-width CI, not certainty." if degenerate else "") + score_note(present))


# --------------------------------------------------------------------------- interval sensitivity
def interval_sensitivity(stats: pd.DataFrame, speed: pd.DataFrame, *, size: Size, annotate: bool = False) -> Figure:
    title = "Sensitivity to the aggregation interval K"
    pps = stats[stats["method"].isin(AGGREGATING_METHODS) & stats["interval"].notna()]
    ks = sorted(set(int(k) for k in pps["interval"]))
    per_method = pps.groupby("method")["interval"].nunique()
    if len(ks) < 2 or per_method.max() < 2:
        found = f"this run has K = {', '.join(map(str, ks))}" if ks else "this run has no PPS method"
        return empty_figure(size, f"Interval sensitivity needs a PPS method run at ≥ 2 intervals K; {found}.",
                            annotate=annotate, title=title)
    thr = min(speed["threshold"]) if not speed.empty else None
    kinds = scores.task_kinds(stats)
    maps = [t for _, tasks in families(sorted(kinds), kinds) for t in tasks]  # grouped by family
    handles = {}
    degenerate = False
    labels = [method_label(m) for m in AGGREGATING_METHODS if m in set(pps["method"])] + [
        f"{method_label(m)} (no aggregation)" for m in stats["method"].unique() if m not in AGGREGATING_METHODS]
    with drawing():
        fig, axes = new_figure(size, len(maps), 2, 1.5 if size.column else 1.8, extra_h=legend_rows_in(labels, size),
                               sharex=True)
        for row, (env, map_) in enumerate(maps):
            ax_s, ax_t = axes[row]
            kind = kinds[(env, map_)]
            st_ = stats[(stats["env"] == env) & (stats["map"] == map_)]
            if thr is None:
                sp = speed.iloc[0:0]
            else:
                sp = speed[(speed["env"] == env) & (speed["map"] == map_) & (speed["threshold"] == thr)]
            for method in [m for m in AGGREGATING_METHODS if m in set(st_["method"])]:
                st = method_style(method)
                c = by_interval(st_, method)
                k = c["interval"].to_numpy(float)
                yerr = np.vstack([c["iqm"] - c["iqm_ci_low"], c["iqm_ci_high"] - c["iqm"]]).astype(float)
                h = ax_s.errorbar(k, c["iqm"].to_numpy(float), yerr=np.nan_to_num(yerr), color=st.color,
                                  ls=st.linestyle, marker=st.marker, capsize=2, ms=4)
                handles.setdefault(method_label(method), h)
                deg = np.array([is_degenerate(lo, hi) for lo, hi in zip(c["iqm_ci_low"], c["iqm_ci_high"])], bool)
                if deg.any():
                    degenerate = True
                    ax_s.plot(k[deg], c["iqm"].to_numpy(float)[deg], st.marker, color=st.color, mfc="white", mew=1.3,
                              ms=6.5, ls="none")
                d = by_interval(sp, method)
                if not d.empty:
                    cens = d["median_censored"].to_numpy(bool)
                    kk, yy = d["interval"].to_numpy(float), d["median_steps"].to_numpy(float)
                    ax_t.plot(kk, yy, color=st.color, ls=st.linestyle, lw=1.2)
                    ax_t.plot(kk[~cens], yy[~cens], st.marker, color=st.color, ms=4, ls="none")
                    ax_t.plot(kk[cens], yy[cens], st.marker, color=st.color, mfc="white", mew=1.2, ms=5, ls="none")
            for method in [m for m in st_["method"].unique() if m not in AGGREGATING_METHODS]:
                st = method_style(method)
                r = select(st_, method, None).iloc[0]
                h = ax_s.axhline(r["iqm"], color=st.color, ls=st.linestyle, lw=1.2)
                handles.setdefault(f"{method_label(method)} (no aggregation)", h)
                b = select(sp, method, None)
                if not b.empty:
                    ax_t.axhline(b["median_steps"].iloc[0], color=st.color, ls=st.linestyle, lw=1.2)
            ax_s.set_xscale("log")
            score_axis([ax_s], kind, values=np.r_[st_["iqm"], st_["iqm_ci_low"], st_["iqm_ci_high"]].astype(float))
            ax_s.set_ylabel(f"final {scores.short([kind])} (IQM)")
            ax_t.set_ylabel(f"steps to {thr:g}" if thr is not None else "steps")
            ax_t.yaxis.set_major_formatter(steps_formatter())
            ax_s.set_title(map_title(env, map_, maps))
            ax_t.set_title(map_title(env, map_, maps))
        for ax in axes[-1]:
            ax.set_xlabel("interval K (log scale)")
            ax.set_xticks(ks, [str(k) for k in ks])
            ax.minorticks_off()
        legend_below(fig, list(handles.values()), list(handles), size)
    return finish(fig, size, annotate=annotate, title=title,
                  note=f"Left: IQM of the final {scores.short(kinds.values())} with {CI_METHOD}; right: median "
                       f"steps to the threshold {'' if thr is None else f'{thr:g} '}over seeds (smoothed score; open "
                       f"marker: the Kaplan-Meier median is not reached, a lower bound). Horizontal lines: methods "
                       f"without aggregation. K in learner updates. {n_text(stats['n'])}."
                       + (" Open marker on the left: zero-width CI, not certainty." if degenerate else "")
                       + score_note(kinds.values()))


# --------------------------------------------------------------------------- forest plots
def _pools(across: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """[(tasks, score kind, rows)] of across_maps.csv, "all" first (a file without the columns
    is one pool of win rates, as before there were task families)."""
    if "tasks" not in across:
        return [("all", scores.WIN_RATE, across)]
    return [(tasks, str(g["score_kind"].iloc[0]), g) for tasks, g in across.groupby("tasks", sort=False)]


def across_maps(across: pd.DataFrame, baseline: str, *, size: Size, annotate: bool = False) -> Figure:
    """Forest plots of `across_maps.csv`: each cell's IQM pooled over maps and its difference to
    the baseline, with their stratified CIs."""
    title = "Across maps"
    if across.empty:
        return empty_figure(size, "no runs", annotate=annotate, title=title)
    pools = _pools(across)
    has_cmp = across["diff"].notna().any()
    n_rows = max(len(g) for _, _, g in pools)
    degenerate = False
    label_room = 1.05
    with drawing():
        fig, axes = new_figure(size, len(pools), 2 if has_cmp else 1,
                               (0.55 + 0.16 * n_rows) if size.column else (0.62 + 0.19 * n_rows))
        panel_w = (size.width - label_room) / axes.shape[1] - 0.1
        for (tasks, kind, g), row in zip(pools, axes):
            labels = [cell_label(m, k if has_interval(k) else None) for m, k in zip(g["method"], g["interval"])]
            styles = [method_style(m) for m in g["method"]]
            ax = row[0]
            degenerate |= forest(ax, labels, g["iqm"], g["iqm_ci_low"], g["iqm_ci_high"], styles)
            what = scores.label(kind) if kind in scores.KINDS else "score"
            ax.set_xlabel("IQM" if size.column else fitted(f"IQM of the final {what}", panel_w))
            score_axis([ax], pool_kind(kind), axis="x",
                       values=np.r_[g["iqm"], g["iqm_ci_low"], g["iqm_ci_high"]].astype(float), pad=0.02)
            if len(pools) > 1:
                pool = f"{POOL_TITLES.get(tasks, tasks)} ({int(g['n_total_maps'].max())} map(s))"
                (ax.set_ylabel if size.column else ax.set_title)(pool)  # a column has no room above two panels
            if has_cmp:
                ax2 = row[1]
                degenerate |= forest(ax2, labels, g["diff"], g["diff_ci_low"], g["diff_ci_high"], styles, ref=0.0)
                points = scores.short([kind]).replace(" ", "-")
                ax2.set_xlabel(f"Δ IQM vs {method_label(baseline)}" if size.column
                               else fitted(f"Δ IQM vs {method_label(baseline)} ({points} points)", panel_w))
                ax2.sharey(ax)
                ax2.tick_params(labelleft=False)
    maps = int(across["n_total_maps"].max())
    n_runs = across["n_runs"]
    runs = f"{int(n_runs.min())}–{int(n_runs.max())}" if n_runs.nunique() > 1 else str(int(n_runs.iloc[0]))
    kinds = [k for _, k, _ in pools if k in scores.KINDS] or [scores.NORMALISED_RETURN]
    per_family = " Rows: all tasks pooled, then each task family alone." if len(pools) > 1 else ""
    return finish(fig, size, annotate=annotate, title=f"Across {maps} map(s)",
                  note=f"IQM of all runs pooled over maps ({runs} runs per method, i.e. seeds × maps) with a "
                       f"{STRATIFIED_CI_METHOD}: seeds resampled within each map.{per_family} {scores.describe(kinds)}"
                       + (f" {DEGENERATE_NOTE}" if degenerate else ""))


def probability_of_improvement(stats: pd.DataFrame, across: pd.DataFrame, baseline: str, *, size: Size,
                               annotate: bool = False) -> Figure:
    title = f"Probability of improvement over {method_label(baseline)}"
    cmp_ = stats[stats["prob_improvement"].notna()]
    if cmp_.empty:
        return empty_figure(size, f"No comparison with the baseline {method_label(baseline)}: it has no runs on any "
                                  f"map shared with another method (pps stats --baseline picks it).",
                            annotate=annotate, title=title)
    maps = sorted({(e, m) for e, m in zip(cmp_["env"], cmp_["map"])})
    pooled = across[across["tasks"] == "all"] if "tasks" in across else across
    panels = ([("all maps (mean)", pooled[pooled["prob_improvement"].notna()])] if len(maps) > 1 else []) + [
        (map_title(e, m, maps), cmp_[(cmp_["env"] == e) & (cmp_["map"] == m)]) for e, m in maps]
    shown = cells(cmp_)
    labels = [cell_label(m, k) for m, k in shown]
    styles = [method_style(m) for m, _ in shown]
    ncols = min(len(panels), 2 if size.column else 3)
    nrows = int(np.ceil(len(panels) / ncols))
    with drawing():
        fig, axes = new_figure(size, nrows, ncols, 0.62 + 0.19 * len(shown), sharey=True, sharex=True)
        for ax in axes.flat[len(panels):]:
            ax.set_visible(False)
        degenerate = False
        for i, (ax, (name, df)) in enumerate(zip(axes.flat, panels)):
            pts, los, his = [], [], []
            for m, k in shown:
                r = df[cell_mask(df, m, k)]
                r = r.iloc[0] if not r.empty else None
                pts.append(r["prob_improvement"] if r is not None else np.nan)
                los.append(r["pi_ci_low"] if r is not None else np.nan)
                his.append(r["pi_ci_high"] if r is not None else np.nan)
            degenerate |= forest(ax, labels, pts, los, his, styles, ref=0.5)
            ax.set_xlim(-0.03, 1.03)
            ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
            ax.set_title(name)
            if i // ncols == nrows - 1 or i + ncols >= len(panels):
                ax.set_xlabel(f"P(method > {method_label(baseline)})")
                ax.tick_params(labelbottom=True)
    return finish(fig, size, annotate=annotate, title=title,
                  note=f"P(X > Y) + P(X = Y)/2 for the final {scores.short(scores.task_kinds(cmp_).values())} of a "
                       f"random run X of the method and Y of {method_label(baseline)} on the same map (= Mann-Whitney "
                       f"U / (n_x n_y)); {n_text(cmp_['n'])}; {CI_METHOD} per map, stratified over maps for 'all "
                       f"maps'. 0.5 = no difference." + (f" {DEGENERATE_NOTE}" if degenerate else ""))


# --------------------------------------------------------------------------- wall-clock
def wallclock(runs: pd.DataFrame, medians: dict[tuple[str, str, str], tuple[float, float, float]], *, size: Size,
              annotate: bool = False) -> Figure:
    """Per map, each method's runs (`figure_data.wallclock_runs`: hours per million env steps)
    and their median with its CI (`figure_data.wallclock_medians`)."""
    title = "Wall-clock cost per method"
    f = runs
    if f.empty:
        return empty_figure(size, "no run recorded its wall-clock time (run.json wall_s and metrics wall_s are "
                                  "empty)", annotate=annotate, title=title)
    maps = sorted({(e, m) for e, m in zip(f["env"], f["map"])})
    methods = sorted(set(f["method"]), key=lambda m: (method_rank(m), m))
    ncols = fit_cols([map_title(e, m, maps) for e, m in maps], size, 2 if size.column else 3)
    nrows = int(np.ceil(len(maps) / ncols))
    counts = []
    with drawing():
        fig, axes = new_figure(size, nrows, ncols, 0.65 + 0.19 * len(methods), sharey=True, sharex=True)
        for ax in axes.flat[len(maps):]:
            ax.set_visible(False)
        for i, (ax, (env, map_)) in enumerate(zip(axes.flat, maps)):
            sub = f[(f["env"] == env) & (f["map"] == map_)]
            for y, method in enumerate(methods[::-1]):
                x = sub.loc[sub["method"] == method, "hours"].to_numpy(float)
                if x.size == 0:
                    continue
                counts.append(x.size)
                st = method_style(method)
                jit = np.random.default_rng(y).uniform(-0.15, 0.15, x.size)  # vertical jitter of the dots only
                ax.scatter(x, y + jit, s=6, color=st.color, alpha=0.5, lw=0)
                med, lo, hi = medians[(env, map_, method)]
                if np.isfinite(lo) and np.isfinite(hi):
                    ax.plot([lo, hi], [y, y], color=st.color, lw=2.5, alpha=0.6)
                ax.plot([med], [y], st.marker, color=st.color, ms=5)
            ax.set_yticks(range(len(methods)), [method_label(m) for m in methods[::-1]])
            ax.grid(axis="y", visible=False)
            ax.set_title(map_title(env, map_, maps))
            if i + ncols >= len(maps):
                ax.set_xlabel("hours per million env steps")
                ax.tick_params(labelbottom=True)
            ax.set_xlim(0, 1.12 * max(1e-9, float(f["hours"].max())))
    devices = f.get("device", pd.Series(["?"] * len(f))).fillna("?")
    n_envs = f.get("n_envs", pd.Series([np.nan] * len(f))).fillna(-1)
    dev = sorted({f"{d}, n_envs={int(n)}" for d, n in zip(devices, n_envs)})
    dev_text = "; ".join(d.replace("n_envs=-1", "n_envs=?") for d in dev)
    return finish(fig, size, annotate=annotate, title=title,
                  note=f"Marker: median over runs (all intervals K pooled) with a {CI_METHOD}; dots: one run each; "
                       f"n = {min(counts)}–{max(counts)} runs per method. Hardware: {dev_text}.")


def all_figures(*, final: pd.DataFrame, stats: pd.DataFrame, across: pd.DataFrame, speed: pd.DataFrame,
                bands: CurveBands, wall_runs: pd.DataFrame,
                wall_medians: dict[tuple[str, str, str], tuple[float, float, float]],
                profiles: list[ProfilePool], efficiency: list[EfficiencyPool],
                chosen: dict[str, int | None], baseline: str, claims_interval: int,
                annotate: bool = False) -> dict[str, Callable[[Size], Figure]]:
    """name -> a function drawing that figure at a print size, for every FIGURE_NAMES entry
    (drawn by the caller, `files.write_figures`)."""
    kinds = scores.task_kinds(final)
    a = annotate
    return {
        "learning_curves": lambda size: learning_curves(bands, kinds, chosen, claims_interval, size=size, annotate=a),
        "final_performance": lambda size: final_performance(final, stats, chosen, claims_interval, size=size,
                                                            annotate=a),
        "interval_sensitivity": lambda size: interval_sensitivity(stats, speed, size=size, annotate=a),
        "across_maps": lambda size: across_maps(across, baseline, size=size, annotate=a),
        "probability_of_improvement": lambda size: probability_of_improvement(stats, across, baseline, size=size,
                                                                              annotate=a),
        "wallclock": lambda size: wallclock(wall_runs, wall_medians, size=size, annotate=a),
        "across_maps_estimates": lambda size: A.across_maps_estimates(across, chosen, claims_interval, size=size,
                                                                      annotate=a),
        "performance_profiles": lambda size: A.performance_profiles(profiles, claims_interval, size=size, annotate=a),
        "sample_efficiency": lambda size: A.sample_efficiency(efficiency, claims_interval, size=size, annotate=a),
    }
