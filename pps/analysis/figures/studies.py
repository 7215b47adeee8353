"""The figures of the studies: compute overhead (`pps overhead`) and agent-count scaling
(`pps scaling`).

Like every figure of the suite they name their statistic, the number of runs and the CI method
on the canvas and use one colour per method (`pps.analysis.render.style`); the sections of a
run's wall-clock take their own fixed colours, so a section looks the same on every map. Every
interval drawn is a column of `overhead_summary.csv` or `scaling.csv`.
"""

from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

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
from pps.analysis.render.style import method_color
from pps.analysis.stats.bootstrap import CI_METHOD, zero_width
from pps.analysis.studies.overhead import SUMMARY_SECTION_COLUMNS
from pps.timing import SECTIONS

# Fixed per section, distinct from the method palette's order so a bar reads as "where the time went".
SECTION_COLORS: dict[str, str] = {
    "env": "#3b6ea5", "acting": "#6fa8dc", "replay": "#8e7cc3", "learner": "#c0504d",
    "aggregation": "#f39c12", "evaluation": "#58a55c", "checkpoint": "#8c6d46", "other": "#c8c8c8",
}
TITLE = dict(fontsize=11, fontweight="bold")
NOTE = dict(fontsize=8.5, color="0.3")


def _layout(fig, title: str, note: str, top_in: float = 0.85, bottom_in: float = 0.0) -> None:
    """Title and explanatory note in a band of `top_in` inches above the panels."""
    h = fig.get_figheight()
    fig.suptitle(title, y=1 - 0.06 / h, va="top", **TITLE)
    # wrapped here rather than by matplotlib, whose wrapping ignores the figure's width under bbox_inches="tight"
    fig.text(0.5, 1 - 0.32 / h, textwrap.fill(note, width=int(fig.get_figwidth() * 15)), ha="center", va="top", **NOTE)
    fig.tight_layout(rect=(0, bottom_in / h, 1, 1 - top_in / h))


def _time_unit(seconds_max: float) -> tuple[float, str]:
    """A divisor and a name so the tallest bar reads in small numbers."""
    if seconds_max >= 2 * 3600:
        return 3600.0, "hours"
    if seconds_max >= 120:
        return 60.0, "minutes"
    return 1.0, "seconds"


def _hardware_text(runs: pd.DataFrame) -> str:
    combos = sorted({f"{d}, {t} thread(s), n_envs={n}" for d, t, n in zip(
        runs["device"].fillna("?"), runs["threads"].fillna("?"), runs["n_envs"].fillna("?"))})
    return "; ".join(c.replace(".0 thread", " thread").replace("n_envs=nan", "n_envs=?") for c in combos)


# --------------------------------------------------------------------------- overhead
def overhead_figure(summary: pd.DataFrame, runs: pd.DataFrame, baseline: str) -> Figure:
    """Per map, one stacked bar per (method, interval): median seconds per million env steps
    of each section; a diamond at the median total; above it the ratio to the baseline and
    the median number of aggregation events."""
    maps = sorted({(e, m) for e, m in zip(summary["env"], summary["map"])})
    envs = {e for e, _ in maps}
    top = np.nanmax(summary[["s_per_mstep", *SUMMARY_SECTION_COLUMNS]].to_numpy(float)) if len(summary) else 0.0
    top_stack = np.nansum(summary[list(SUMMARY_SECTION_COLUMNS)].to_numpy(float), axis=1).max() if len(summary) else 0.0
    unit, unit_name = _time_unit(max(top if np.isfinite(top) else 0.0, top_stack))
    ncols = min(3, len(maps))
    nrows = math.ceil(len(maps) / ncols)
    n_cells = max(len(cells(summary[(summary["env"] == e) & (summary["map"] == m)])) for e, m in maps)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(8.0, ncols * (1.6 + 0.75 * n_cells)), 3.9 * nrows + 2.0),
                             squeeze=False, sharey=True)
    for ax in axes.flat[len(maps):]:
        ax.set_visible(False)
    untimed_any = False
    ymax = 0.0
    for ax, (env, map_) in zip(axes.flat, maps):
        sub = summary[(summary["env"] == env) & (summary["map"] == map_)]
        shown = cells(sub)
        for x, (method, interval) in enumerate(shown):
            r = sub[cell_mask(sub, method, interval)].iloc[0]
            total = float(r["s_per_mstep"]) / unit
            if r["n_timed"] > 0:
                bottom = 0.0
                for s, col in zip(SECTIONS, SUMMARY_SECTION_COLUMNS):
                    h = float(r[col]) / unit
                    if np.isfinite(h) and h > 0:
                        ax.bar(x, h, bottom=bottom, width=0.7, color=SECTION_COLORS[s], edgecolor="white", lw=0.4)
                        bottom += h
                height = max(bottom, total if np.isfinite(total) else 0.0)
            else:  # older runs: the wall-clock is known, its split is not
                untimed_any = True
                ax.bar(x, total, width=0.7, color="white", edgecolor="0.5", hatch="///", lw=0.8)
                height = total
            if np.isfinite(total):
                ax.plot([x], [total], "D", color=method_color(method), mec="black", mew=0.6, ms=6, zorder=3)
            text = []
            if method == baseline:
                text.append("baseline")
            elif np.isfinite(r["ratio_vs_baseline"]):
                text.append(f"×{r['ratio_vs_baseline']:.2f}")
            if is_aggregating(method) and np.isfinite(r["aggregations"]):
                text.append(f"{r['aggregations']:.0f} agg.")
            if text and np.isfinite(height):
                ax.annotate("\n".join(text), (x, height), xytext=(0, 3), textcoords="offset points",
                            ha="center", va="bottom", fontsize=7.5)
            ymax = max(ymax, height if np.isfinite(height) else 0.0)
        ax.set_xticks(range(len(shown)), [cell_label(m, k) for m, k in shown], rotation=35, ha="right", fontsize=8.5)
        ax.set_title(map_ if len(envs) <= 1 else f"{env} / {map_}", fontsize=10)
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel(f"{unit_name} per 1M env steps")
        ax.grid(axis="y", color="0.9")
        ax.set_axisbelow(True)
    axes.flat[0].set_ylim(0, 1.3 * ymax if ymax > 0 else 1.0)
    handles = [Patch(color=SECTION_COLORS[s], label=s) for s in SECTIONS]
    if untimed_any:
        handles.append(Patch(facecolor="white", edgecolor="0.5", hatch="///",
                             label="not split (no time_s, or parts not adding up)"))
    fig.legend(handles=handles, loc="lower center", ncol=min(5, len(handles)), frameon=False, fontsize=8.5,
               bbox_to_anchor=(0.5, 0.0))
    n = runs.groupby(CELL_COLUMNS, dropna=False).size()
    n_txt = f"{n.min()}" if n.min() == n.max() else f"{n.min()}–{n.max()}"
    _layout(fig, "Compute overhead: where the wall-clock goes",
            f"Bars: median over runs of each section's seconds per 1M env steps (runs whose sections add up to "
            f"their wall-clock); diamond: median total. ×r: median wall-clock per env step / "
            f"{method_label(baseline)}'s on the same map (CI in overhead_summary.csv); agg.: median aggregation "
            f"events per run. "
            f"{n_txt} run(s) per bar. Hardware: {_hardware_text(runs)}.",
            top_in=0.8, bottom_in=0.65)
    return fig


# --------------------------------------------------------------------------- scaling
def _chosen(df: pd.DataFrame, claims_interval: int) -> pd.Series:
    """Rows of each method at the claims interval (or its nearest K), as the other figures."""
    return chosen_mask(df, chosen_cells(df, claims_interval))


def _agent_ticks(ax, table: pd.DataFrame) -> None:
    by_n: dict[float, list[str]] = {}
    for n, m in sorted(set(zip(table["n_agents"], table["map"]))):
        if np.isfinite(n):
            by_n.setdefault(n, []).append(m)
    ax.set_xscale("log")
    # close agent counts (25, 27) sit side by side on a log axis: slanted labels keep apart
    ax.set_xticks(list(by_n), [f"{n:g} ({', '.join(ms)})" for n, ms in by_n.items()], fontsize=7.5,
                  rotation=35, ha="right")
    ax.minorticks_off()


def scaling_figure(scaling: pd.DataFrame, overhead: pd.DataFrame, baseline: str, claims_interval: int) -> Figure:
    """Gain over the baseline (with CIs) and cost per run, both against the number of agents."""
    table = scaling[_chosen(scaling, claims_interval)]
    cost = overhead[_chosen(overhead, claims_interval)] if len(overhead) else overhead
    shown = cells(table)
    n_methods = max(1, len(shown))
    fig, axes = plt.subplots(2, 2, figsize=(11.5, 8.6), squeeze=False)
    ax_gain = axes[0, 0]
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
        color = method_color(method)
        ax_gain.plot(x, y, "-", color=color, lw=1.2, alpha=0.7)
        deg = np.array([zero_width(a, b) for a, b in zip(lo, hi)], bool)
        ok = np.isfinite(lo) & np.isfinite(hi) & ~deg
        if ok.any():
            ax_gain.errorbar(x[ok], y[ok], yerr=[y[ok] - lo[ok], hi[ok] - y[ok]], fmt="o", color=color, capsize=3,
                             ms=5, label=cell_label(method, interval))
        if (~ok).any():
            degenerate = True
            ax_gain.plot(x[~ok], y[~ok], "o", color=color, mfc="white", mew=1.6, ms=6,
                         label=None if ok.any() else cell_label(method, interval))
    ax_gain.axhline(0, color="0.4", ls=":", lw=1)
    ax_gain.set_ylabel(f"gain over {method_label(baseline)}: Δ IQM of the final score")
    ax_gain.set_title("Score gain over the baseline", fontsize=10)
    if ax_gain.get_legend_handles_labels()[0]:
        ax_gain.legend(fontsize=8, frameon=False)
    panels = [(axes[0, 1], "learner_ms_per_update", "learner ms per update"),
              (axes[1, 0], "steps_per_s", "env steps per second"),
              (axes[1, 1], "peak_rss_mb", "peak memory per run (MiB)")]
    for ax, col, label in panels:
        drawn = False
        for method, interval in cells(cost) if len(cost) else []:
            c = cost[cell_mask(cost, method, interval)]
            c = c[np.isfinite(c[col].to_numpy(float)) & np.isfinite(c["n_agents"].to_numpy(float))]
            if c.empty:
                continue
            drawn = True
            color = method_color(method)
            ax.scatter(c["n_agents"], c[col], s=12, color=color, alpha=0.45, lw=0)
            med = c.groupby("n_agents")[col].median()
            ax.plot(med.index, med.to_numpy(float), "-o", color=color, ms=4, lw=1.4, label=cell_label(method, interval))
        if drawn:
            ax.set_yscale("log")
            # 1-2-5 ticks with plain numbers: costs often span less than a decade, where a log
            # axis would otherwise show no labelled tick at all
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        else:
            ax.text(0.5, 0.5, f"no run recorded {col}\n(run.json from before the overhead accounting)",
                    ha="center", va="center", fontsize=9, transform=ax.transAxes)
        ax.set_ylabel(label + (" (log)" if drawn else ""))
        ax.set_title(label[0].upper() + label[1:], fontsize=10)
    for ax in axes.flat:
        _agent_ticks(ax, table if len(table) else scaling)
        ax.set_xlabel("number of agents (log scale)")
        ax.grid(color="0.92")
    if axes[0, 1].get_legend_handles_labels()[0]:
        axes[0, 1].legend(fontsize=8, frameon=False)
    ns = table["n"].to_numpy(float)
    n_txt = f"{int(np.nanmin(ns))}" if np.nanmin(ns) == np.nanmax(ns) else f"{int(np.nanmin(ns))}–{int(np.nanmax(ns))}"
    score = str(table["score_column"].iloc[0]) if len(table) else "score"
    _layout(fig, "Scaling with the number of agents",
            f"Gain: IQM of the final score ({score}) minus {method_label(baseline)}'s on the same map, {CI_METHOD} "
            f"(seeds of both resampled); {n_txt} seeds per cell; PPS methods at K = {claims_interval} or the nearest "
            f"K run."
            + (" Open marker: no CI or a zero-width CI, not certainty." if degenerate else "")
            + " Cost: one dot per run, line through the medians per agent count.",
            top_in=0.75)
    return fig
