"""The figures of the studies: compute overhead (`pps overhead`), agent-count scaling
(`pps scaling`) and one setting against another (`pps compare`).

Like every figure of the suite they are drawn at each print size (`layout.Size`), draw each
method in its colour and its marker or line style (`pps.analysis.render.style`) and leave the
statistic, n and the CI method to the caption (on the canvas only with `annotate`); the
sections of a run's wall-clock take their own fixed colours, so a section looks the same on
every map. Costs per step are in the suite's one unit, hours per million env steps
(`pps.run_cost.COST_UNIT`). Every interval drawn is a column of `overhead_summary.csv` or
`scaling.csv`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from pps.analysis.data.cells import (
    CELL_COLUMNS,
    cell_label,
    cell_mask,
    cells,
    chosen_cells,
    chosen_mask,
    is_aggregating,
    method_label,
)
from pps.analysis.figures.layout import Size, drawing, finish, legend_below, new_figure
from pps.analysis.figures.panels import fitted, legend_rows_in, map_title, panel_width
from pps.analysis.render.style import method_style
from pps.analysis.stats.bootstrap import CI_METHOD, zero_width
from pps.analysis.studies.overhead import SUMMARY_SECTION_COLUMNS
from pps.run_cost import COST_UNIT, COST_UNIT_SHORT
from pps.timing import SECTIONS

# Fixed per section, distinct from the method palette's order so a bar reads as "where the time went".
SECTION_COLORS: dict[str, str] = {
    "env": "#3b6ea5", "acting": "#6fa8dc", "replay": "#8e7cc3", "learner": "#c0504d",
    "aggregation": "#f39c12", "evaluation": "#58a55c", "checkpoint": "#8c6d46", "other": "#c8c8c8",
}
UNTIMED_LABEL = "not split (no time_s, or parts not adding up)"


def _hardware_text(runs: pd.DataFrame) -> str:
    combos = sorted({f"{d}, {t} thread(s), n_envs={n}" for d, t, n in zip(
        runs["device"].fillna("?"), runs["threads"].fillna("?"), runs["n_envs"].fillna("?"))})
    return "; ".join(c.replace(".0 thread", " thread").replace("n_envs=nan", "n_envs=?") for c in combos)


# --------------------------------------------------------------------------- overhead
def overhead_figure(summary: pd.DataFrame, runs: pd.DataFrame, baseline: str, *, size: Size,
                    annotate: bool = False) -> Figure:
    """Per map, one horizontal stacked bar per (method, interval): the median hours per
    million env steps of each section; the method's marker at the median total; beside it the
    ratio to the baseline and the median number of aggregation events."""
    maps = sorted({(e, m) for e, m in zip(summary["env"], summary["map"])})
    n_cells = max(len(cells(summary[(summary["env"] == e) & (summary["map"] == m)])) for e, m in maps)
    ncols = size.cols(len(maps), full=2, column=1)
    nrows = int(np.ceil(len(maps) / ncols))
    untimed_any = bool((summary["n_timed"] == 0).any())
    labels = list(SECTIONS) + ([UNTIMED_LABEL] if untimed_any else [])
    with drawing():
        fig, axes = new_figure(size, nrows, ncols, 0.6 + 0.2 * n_cells, extra_h=legend_rows_in(labels, size),
                               sharex=True)
        for ax in axes.flat[len(maps):]:
            ax.set_visible(False)
        xmax = 0.0
        for i, (ax, (env, map_)) in enumerate(zip(axes.flat, maps)):
            sub = summary[(summary["env"] == env) & (summary["map"] == map_)]
            shown = cells(sub)
            ys = np.arange(len(shown))[::-1]
            for y, (method, interval) in zip(ys, shown):
                r = sub[cell_mask(sub, method, interval)].iloc[0]
                total = float(r["h_per_mstep"])
                if r["n_timed"] > 0:
                    left = 0.0
                    for s, col in zip(SECTIONS, SUMMARY_SECTION_COLUMNS):
                        w = float(r[col])
                        if np.isfinite(w) and w > 0:
                            ax.barh(y, w, left=left, height=0.7, color=SECTION_COLORS[s], edgecolor="white", lw=0.4)
                            left += w
                    end = max(left, total if np.isfinite(total) else 0.0)
                else:  # older runs: the wall-clock is known, its split is not
                    ax.barh(y, total, height=0.7, color="white", edgecolor="0.5", hatch="///", lw=0.8)
                    end = total
                st = method_style(method)
                if np.isfinite(total):
                    ax.plot([total], [y], st.marker, color=st.color, mec="black", mew=0.5, ms=5, zorder=3)
                text = []
                if method == baseline:
                    text.append("baseline")
                elif np.isfinite(r["ratio_vs_baseline"]):
                    text.append(f"×{r['ratio_vs_baseline']:.2f}")
                if is_aggregating(method) and np.isfinite(r["aggregations"]):
                    text.append(f"{r['aggregations']:.0f} agg.")
                if text and np.isfinite(end):
                    ax.annotate(", ".join(text), (end, y), xytext=(4, 0), textcoords="offset points", ha="left",
                                va="center", fontsize=8)
                xmax = max(xmax, end if np.isfinite(end) else 0.0)
            ax.set_yticks(ys, [cell_label(m, k) for m, k in shown])
            ax.grid(axis="y", visible=False)
            ax.set_title(map_title(env, map_, maps))
            if i + ncols >= len(maps):
                ax.set_xlabel(fitted(COST_UNIT, panel_width(size, ncols, 1.2)))
                ax.tick_params(labelbottom=True)
        # room right of the longest bar for its label ("×1.35, 40 agg." is about 1 in at 8 pt)
        room = max(0.3, 1.0 / max(0.5, panel_width(size, ncols, 1.2)))
        axes.flat[0].set_xlim(0, (1 + room) * xmax if xmax > 0 else 1.0)
        handles = [Patch(color=SECTION_COLORS[s], label=s) for s in SECTIONS]
        if untimed_any:
            handles.append(Patch(facecolor="white", edgecolor="0.5", hatch="///", label=UNTIMED_LABEL))
        legend_below(fig, handles, [h.get_label() for h in handles], size)
    n = runs.groupby(CELL_COLUMNS, dropna=False).size()
    n_txt = f"{n.min()}" if n.min() == n.max() else f"{n.min()}–{n.max()}"
    return finish(fig, size, annotate=annotate, title="Compute overhead: where the wall-clock goes",
                  note=f"Bars: median over runs of each section's {COST_UNIT} (runs whose sections add up to their "
                       f"wall-clock); marker: median total. ×r: median wall-clock per env step / "
                       f"{method_label(baseline)}'s on the same map (CI in overhead_summary.csv); agg.: median "
                       f"aggregation events per run. {n_txt} run(s) per bar. Hardware: {_hardware_text(runs)}.")


# --------------------------------------------------------------------------- scaling
def _chosen(df: pd.DataFrame, claims_interval: int) -> pd.Series:
    """Rows of each method at the claims interval (or its nearest K), as the other figures."""
    return chosen_mask(df, chosen_cells(df, claims_interval))


def _agent_ticks(ax, table: pd.DataFrame, with_maps: bool) -> None:
    """Ticks at the agent counts, labelled with their maps where there is room (`with_maps`)."""
    by_n: dict[float, list[str]] = {}
    for n, m in sorted(set(zip(table["n_agents"], table["map"]))):
        if np.isfinite(n):
            by_n.setdefault(n, []).append(m)
    ax.set_xscale("log")
    if with_maps:  # close agent counts (25, 27) sit side by side on a log axis: slanted labels keep apart
        ax.set_xticks(list(by_n), [f"{n:g} ({', '.join(ms)})" for n, ms in by_n.items()], rotation=30, ha="right",
                      rotation_mode="anchor")
    else:
        ax.set_xticks(list(by_n), [f"{n:g}" for n in by_n])
    ax.minorticks_off()


def _log_cost_axis(ax) -> None:
    """A log y axis with plain numbers: 1-2-5 ticks over a decade or more, else about four
    evenly spaced ticks (a cost that spans less than a decade has no 1-2-5 tick to label)."""
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    if hi / lo >= 10:
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(4))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def scaling_figure(scaling: pd.DataFrame, overhead: pd.DataFrame, baseline: str, claims_interval: int, *,
                   size: Size, annotate: bool = False) -> Figure:
    """Gain over the baseline (with CIs) and cost per run, both against the number of agents."""
    table = scaling[_chosen(scaling, claims_interval)]
    cost = overhead[_chosen(overhead, claims_interval)] if len(overhead) else overhead
    shown = cells(table)
    n_methods = max(1, len(shown))
    labels = list(dict.fromkeys([cell_label(m, k) for m, k in shown] + (
        [cell_label(m, k) for m, k in cells(cost)] if len(cost) else [])))
    maps_note = "" if not size.column else " Agent counts: " + "; ".join(
        f"{n:g} = {', '.join(sorted(set(g['map'])))}" for n, g in table.groupby("n_agents")) + "."
    handles: dict[str, object] = {}
    with drawing():
        nrows, ncols = (4, 1) if size.column else (2, 2)
        fig, axes = new_figure(size, nrows, ncols, 1.75 if size.column else 2.3, extra_h=legend_rows_in(labels, size),
                               sharex=True)
        flat = list(axes.flat)
        ax_gain = flat[0]
        degenerate = False
        for j, (method, interval) in enumerate(c for c in shown if c[0] != baseline):
            r = table[cell_mask(table, method, interval)].sort_values("n_agents")
            r = r[np.isfinite(r["gain"].to_numpy(float))]
            if r.empty:
                continue
            dodge = 1.0 + 0.035 * (j - (n_methods - 2) / 2)  # methods side by side on the log axis
            x = r["n_agents"].to_numpy(float) * dodge
            y = r["gain"].to_numpy(float)
            lo, hi = r["gain_ci_low"].to_numpy(float), r["gain_ci_high"].to_numpy(float)
            st = method_style(method)
            label = cell_label(method, interval)
            ax_gain.plot(x, y, color=st.color, ls=st.linestyle, lw=1.2, alpha=0.8)
            deg = np.array([zero_width(a, b) for a, b in zip(lo, hi)], bool)
            ok = np.isfinite(lo) & np.isfinite(hi) & ~deg
            if ok.any():
                ax_gain.errorbar(x[ok], y[ok], yerr=[y[ok] - lo[ok], hi[ok] - y[ok]], fmt=st.marker, color=st.color,
                                 capsize=2, ms=4)
            if (~ok).any():
                degenerate = True
                ax_gain.plot(x[~ok], y[~ok], st.marker, color=st.color, mfc="white", mew=1.2, ms=5, ls="none")
            handles.setdefault(label, Line2D([], [], color=st.color, ls=st.linestyle, marker=st.marker, ms=4))
        ax_gain.axhline(0, color="0.4", ls=":", lw=1)
        ax_gain.set_ylabel(f"Δ IQM vs {method_label(baseline)}")
        ax_gain.set_title(f"Score gain over {method_label(baseline)}")
        panels = [(flat[1], "learner_ms_per_update", "learner ms per update"),
                  (flat[2], "steps_per_s", "env steps per second"),
                  (flat[3], "peak_rss_mb", "peak memory per run (MiB)")]
        for ax, col, label in panels:
            drawn = False
            for method, interval in cells(cost) if len(cost) else []:
                c = cost[cell_mask(cost, method, interval)]
                c = c[np.isfinite(c[col].to_numpy(float)) & np.isfinite(c["n_agents"].to_numpy(float))]
                if c.empty:
                    continue
                drawn = True
                st = method_style(method)
                ax.scatter(c["n_agents"], c[col], s=6, color=st.color, alpha=0.45, lw=0)
                med = c.groupby("n_agents")[col].median()
                (line,) = ax.plot(med.index, med.to_numpy(float), color=st.color, ls=st.linestyle, marker=st.marker,
                                  ms=3.5, lw=1.2)
                handles.setdefault(cell_label(method, interval), line)
            if drawn:
                _log_cost_axis(ax)
            else:
                ax.text(0.5, 0.5, f"no run recorded {col}\n(run.json from before\nthe overhead accounting)",
                        ha="center", va="center", fontsize=8, transform=ax.transAxes)
            ax.set_ylabel(label.split(" (")[0].replace("per run", "").strip() + (" (log)" if drawn else ""))
            ax.set_title(label[0].upper() + label[1:])
        for ax in flat:
            _agent_ticks(ax, table if len(table) else scaling, with_maps=not size.column)
            ax.grid(color="0.92")
        for ax in flat[:-ncols]:  # one agent axis for all panels: labelled under the bottom row only
            ax.tick_params(labelbottom=False)
        for ax in flat[-ncols:]:
            ax.set_xlabel("number of agents (log scale)")
        order = [cell_label(m, k) for m, k in cells(pd.concat([table, cost])[["method", "interval"]])]
        legend_below(fig, [handles[lab] for lab in order if lab in handles], [lab for lab in order if lab in handles],
                     size)
    ns = table["n"].to_numpy(float)
    n_txt = f"{int(np.nanmin(ns))}" if np.nanmin(ns) == np.nanmax(ns) else f"{int(np.nanmin(ns))}–{int(np.nanmax(ns))}"
    score = str(table["score_column"].iloc[0]) if len(table) else "score"
    return finish(fig, size, annotate=annotate, title="Scaling with the number of agents",
                  note=f"Gain: IQM of the final score ({score}) minus {method_label(baseline)}'s on the same map, "
                       f"{CI_METHOD} (seeds of both resampled); {n_txt} seeds per cell; PPS methods at K = "
                       f"{claims_interval} or the nearest K run."
                       + (" Open marker: no CI or a zero-width CI, not certainty." if degenerate else "")
                       + f" Cost: one dot per run, line through the medians per agent count ({COST_UNIT_SHORT} "
                         f"in scaling.csv).{maps_note}")


# --------------------------------------------------------------------------- A against B
COMPARE_COLORS = ("#3b6ea5", "#c0504d")  # side A, side B: the two settings, not methods


def compare_figure(bands: pd.DataFrame, table: pd.DataFrame, names: tuple[str, str], *, size: Size,
                   annotate: bool = False) -> Figure:
    """One panel per matched cell: each side's mean score against env steps with its pointwise
    95% percentile bootstrap band over seeds (`studies.compare.curve_bands`), and the cell's
    verdict in the title."""
    keys = list(table.drop_duplicates(CELL_COLUMNS)[CELL_COLUMNS].itertuples(index=False))
    maps = [(k.env, k.map) for k in keys]
    ncols = size.cols(len(keys), full=3, column=1)
    nrows = max(1, int(np.ceil(len(keys) / ncols)))
    with drawing():
        fig, axes = new_figure(size, nrows, ncols, 1.7, extra_h=legend_rows_in(list(names), size))
        for ax in axes.flat[len(keys):]:
            ax.set_visible(False)
        for ax, key in zip(axes.flat, keys):
            cell = bands[(bands["env"] == key.env) & (bands["map"] == key.map) & (bands["method"] == key.method)
                         & cell_mask(bands, key.method, key.interval)]
            for side, name, color in zip(("a", "b"), names, COMPARE_COLORS):
                line = cell[cell["side"] == side].sort_values("step")
                if line.empty:
                    continue
                ax.plot(line["step"], line["mean"], color=color, label=name)
                if line["low"].notna().all():
                    ax.fill_between(line["step"], line["low"], line["high"], color=color, alpha=0.2, lw=0)
            verdict = table[(table["env"] == key.env) & (table["map"] == key.map) & (table["method"] == key.method)
                            & cell_mask(table, key.method, key.interval)]["verdict"].iloc[0]
            ax.set_title(f"{map_title(key.env, key.map, maps)}, {cell_label(key.method, key.interval)}: {verdict}")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k" if x else "0"))
            ax.set_xlabel("env steps")
            ax.set_ylabel("score")
        handles = [Line2D([], [], color=c, label=n) for n, c in zip(names, COMPARE_COLORS)]
        legend_below(fig, handles, list(names), size)
    n = bands.drop_duplicates(["side", *CELL_COLUMNS])["seeds"]
    n_txt = f"{n.min()}" if n.min() == n.max() else f"{n.min()}–{n.max()}"
    return finish(fig, size, annotate=annotate, title=f"{names[0]} against {names[1]}: learning curves",
                  note=f"Mean score over {n_txt} seed(s) per side and its pointwise {CI_METHOD}; the verdict in each "
                       f"title comes from compare.csv (the studentized permutation and exact Mann-Whitney tests "
                       f"of the final score and the area under the curve, Benjamini-Hochberg over the table).")
