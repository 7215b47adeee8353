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
    "aggregate.csv",  # per (tasks, method, interval): IQM of scores across maps (all; each family too), stratified CI
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
        "Score (the test win rate; on tasks without a win condition the normalised test return, "
        "0 = random policy, 1 = reference policy) against environment steps, one panel per map, "
        "each task family in its own rows: the IQM across seeds "
        "with a 95% percentile-bootstrap CI band, runs interpolated onto a common step grid."
    ),
    "final_performance": (
        "Final score (mean of the last evaluations of each run) per map and method, one panel "
        "per task family: "
        "IQM across seeds with a 95% percentile-bootstrap CI, one dot per seed; an open diamond "
        "marks a zero-width CI (too few seeds, not certainty)."
    ),
    "interval_sensitivity": (
        "Sensitivity to the aggregation interval K (learner updates, log scale) for each PPS "
        "method: final score (IQM, 95% bootstrap CI) and median steps to the first threshold."
    ),
    "aggregate": (
        "Across all maps: IQM of the normalised final score per method with a 95% stratified "
        "bootstrap CI (seeds resampled within each map); with both task families present, "
        "also each family alone."
    ),
    "probability_of_improvement": (
        "Probability that a run of each method beats a run of the baseline on the same map (final score) "
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


# --------------------------------------------------------------------------- studies (issue 11)
# `pps overhead` -> results/ (these two) and figures/overhead.{png,pdf}: written for any results tree.
OVERHEAD_FILES: tuple[str, ...] = (
    "overhead.csv",  # one row per run: wall-clock, steps, seconds per section, memory, aggregations
    "overhead_summary.csv",  # per (env, map, method, interval): medians, ratio and extra cost vs baseline
)
OVERHEAD_FIGURE = "overhead"

# `pps scaling` -> results/scaling.csv and figures/scaling.{png,pdf}. The one exception to
# "always written": a scaling study needs maps with at least MIN_AGENT_COUNTS distinct agent
# counts, so the command refuses (writing nothing) with fewer, and the workflow asks for these
# files only when its maps qualify (`scaling_applies`), rather than drawing an empty figure.
SCALING_FILES: tuple[str, ...] = ("scaling.csv",)
SCALING_FIGURE = "scaling"
MIN_AGENT_COUNTS = 2

STUDY_FIGURE_CAPTIONS: dict[str, str] = {
    OVERHEAD_FIGURE: (
        "Compute overhead per map: wall-clock per million environment steps of each method, the bar "
        "split into what the run spent stepping envs, acting, on replay, in the learner, aggregating "
        "(RS-PPS scoring included), evaluating and checkpointing (medians over runs, from each run's "
        "run.json). Above each bar: the ratio of its median wall-clock per env step to the baseline "
        "(QMIX) on the same map, and the median number of aggregation events per run."
    ),
    SCALING_FIGURE: (
        "Scaling with the number of agents. Top left: each method's gain over the baseline (QMIX), "
        "IQM of the final score minus QMIX's on the same map, with a 95% percentile bootstrap CI; "
        "PPS methods at the claims interval K. Other panels: cost per run against the number of "
        "agents (log scale): learner milliseconds per update, environment steps per second and "
        "peak resident memory, one dot per run and a line through the medians."
    ),
}


def scaling_applies(agent_counts) -> bool:
    """Whether maps with these agent counts make a scaling study (>= MIN_AGENT_COUNTS distinct)."""
    return len(set(agent_counts)) >= MIN_AGENT_COUNTS
