"""The `pps stats` computation as one pure function: tables in, every STATS_FILES output out."""

from __future__ import annotations

import pandas as pd

from pps.analysis import tables as T
from pps.analysis.claims_report import claims_markdown
from pps.analysis.convergence import run_convergence, speedup_table
from pps.analysis.outputs import STATS_FILES
from pps.analysis.stats import aggregate_across_maps, cell_stats
from pps.analysis.style import method_label


def final_window_text(final: pd.DataFrame) -> str:
    w = sorted(set(int(x) for x in final.get("final_window", pd.Series(dtype=int)).dropna()))
    if not w:
        return "final evaluations"
    return f"mean of the last {w[0]} evaluations" if len(w) == 1 else f"mean of the last {w[0]}–{w[-1]} evaluations"


def compute_stats(final: pd.DataFrame, curves: pd.DataFrame, *, baseline: str, thresholds, smooth_window: int,
                  seed: int, claims_interval: int, high_dim: tuple[str, ...]) -> dict[str, object]:
    """name (relative to the results folder) -> DataFrame (CSV) or str (text), for every STATS_FILES entry."""
    fw = final_window_text(final)
    base_label = method_label(baseline)
    stats = cell_stats(final, baseline, seed)
    aggregate = aggregate_across_maps(final, baseline, seed)
    conv = run_convergence(curves, thresholds, smooth_window)
    speed = speedup_table(conv, baseline, seed)
    out = {
        "stats.csv": stats,
        "aggregate.csv": aggregate,
        "convergence.csv": conv,
        "speedup.csv": speed,
        "tables/stats.md": T.stats_markdown(stats, base_label, fw),
        "tables/stats.tex": T.stats_latex(stats, base_label, fw),
        "tables/convergence.md": T.convergence_markdown(speed, base_label, smooth_window),
        "tables/convergence.tex": T.convergence_latex(speed, base_label, smooth_window),
        "tables/claims.md": claims_markdown(final, baseline=baseline, claims_interval=claims_interval,
                                            high_dim=high_dim, seed=seed, final_window=fw),
    }
    assert tuple(out) == STATS_FILES, "pps.analysis.outputs.STATS_FILES and compute_stats disagree"
    return out
