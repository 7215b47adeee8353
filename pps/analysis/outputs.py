"""The fixed names of every file the analysis layer writes (import-light on purpose).

The Snakemake workflow imports this module to declare its outputs before any job runs, so
it must not import pandas, matplotlib or anything slow. Every file listed here is ALWAYS
written by its command, whatever the data holds: where a figure or table has nothing to
show (one interval only, no PPS method, no baseline) it says so on the canvas / in the
table instead of being skipped.

Paths in `AGGREGATE_FILES` and `STATS_FILES` are relative to the results folder
(`--out` of `pps aggregate`, `--results` of `pps stats`); figures are written as
`<figures dir>/<name>.<ext>` for every name in `FIGURE_NAMES` and ext in `FIGURE_FORMATS`.
"""

from __future__ import annotations

# `pps aggregate` -> results/
AGGREGATE_FILES: tuple[str, ...] = ("curves.csv", "final.csv")

# `pps stats` -> results/
STATS_FILES: tuple[str, ...] = (
    "stats.csv",  # per (env, map, method, interval): n, mean, median, IQM + CIs, tests vs baseline
    "aggregate.csv",  # per (method, interval): IQM of normalised scores across maps, stratified CI
    "convergence.csv",  # per run and threshold: first step reaching it, normalised AUC
    "speedup.csv",  # per (env, map, method, interval, threshold): speed-up vs baseline with CI
    "tables/stats.md",
    "tables/stats.tex",
    "tables/convergence.md",
    "tables/convergence.tex",
    "tables/claims.md",
)

# `pps plot` -> figures/
FIGURE_NAMES: tuple[str, ...] = (
    "learning_curves",
    "final_performance",
    "interval_sensitivity",
    "aggregate",
    "probability_of_improvement",
    "wallclock",
)
FIGURE_FORMATS: tuple[str, ...] = ("png", "pdf")

FIGURE_CAPTIONS: dict[str, str] = {
    "learning_curves": (
        "Test win rate against environment steps, one panel per map: the IQM across seeds "
        "with a 95% percentile-bootstrap CI band, runs interpolated onto a common step grid."
    ),
    "final_performance": (
        "Final test win rate (mean of the last evaluations of each run) per map and method: "
        "IQM across seeds with a 95% percentile-bootstrap CI, one dot per seed; an open diamond "
        "marks a zero-width CI (too few seeds, not certainty)."
    ),
    "interval_sensitivity": (
        "Sensitivity to the aggregation interval K (learner updates, log scale) for each PPS "
        "method: final win rate (IQM, 95% bootstrap CI) and median steps to the first threshold."
    ),
    "aggregate": (
        "Across all maps: IQM of the normalised final score per method with a 95% stratified "
        "bootstrap CI (seeds resampled within each map)."
    ),
    "probability_of_improvement": (
        "Probability that a run of each method beats a run of the baseline on the same map "
        "(Mann-Whitney U / (n_x n_y)), per map, with a 95% bootstrap CI; 0.5 means no difference. "
        "An open marker is a zero-width CI (complete separation at few seeds), not certainty."
    ),
    "wallclock": (
        "Wall-clock cost per method: hours per million environment steps of each run "
        "(median with a 95% bootstrap CI, one dot per run), per map."
    ),
}


def figure_files(names: tuple[str, ...] = FIGURE_NAMES) -> list[str]:
    """Every figure file name, e.g. ['learning_curves.png', 'learning_curves.pdf', ...]."""
    return [f"{n}.{ext}" for n in names for ext in FIGURE_FORMATS]
