"""The fixed names of every file the analysis layer writes (import-light on purpose).

The Snakemake workflow imports this module to declare its outputs before any job runs, so
it must not import pandas, matplotlib or anything slow. Every file listed here is ALWAYS
written by its command, whatever the data holds: where a figure or table has nothing to
show (one interval only, no PPS method, no baseline) it says so on the canvas / in the
table instead of being skipped.

Paths in `COLLECT_FILES` and `STATS_FILES` are relative to the results folder
(`--out` of `pps collect`, `--results` of `pps stats`); figures are written as
`<figures dir>/<name>.<ext>` (full width) and `<figures dir>/column/<name>.<ext>` (one column)
for every name in `FIGURE_NAMES` and ext in `FIGURE_FORMATS` (`figure_files`).
"""

from __future__ import annotations

# `pps collect` -> results/
COLLECT_FILES: tuple[str, ...] = ("curves.csv", "final.csv")

# `pps stats` -> results/
STATS_FILES: tuple[str, ...] = (
    "stats.csv",  # per (env, map, method, interval): n, mean, median, IQM + CIs, tests vs baseline
    "across_maps.csv",  # per (tasks, method, interval): IQM of scores across maps (all; each family too), stratified CI
    "convergence.csv",  # per run and threshold: first step reaching it, normalised AUC
    "speedup.csv",  # per (env, map, method, interval, threshold): speed-up vs baseline with CI
    "tables/stats.md",
    "tables/stats.tex",
    "tables/convergence.md",
    "tables/convergence.tex",
    "tables/claims.md",
    "tables/across_maps.md",  # across_maps.csv's estimates: median of map means, IQM, mean, optimality gap
    "tables/across_maps.tex",
)

# `pps plot` -> figures/
FIGURE_NAMES: tuple[str, ...] = (
    "learning_curves",
    "final_performance",
    "interval_sensitivity",
    "across_maps",
    "probability_of_improvement",
    "wallclock",
    "across_maps_estimates",  # median, IQM, mean and optimality gap across maps (Agarwal et al. 2021)
    "performance_profiles",  # fraction of runs above each score, across maps
    "sample_efficiency",  # IQM across maps against environment steps
)
FIGURE_FORMATS: tuple[str, ...] = ("png", "pdf")

# Every figure is written at two print sizes: the full text width of a two-column paper,
# `<figures dir>/<name>.<ext>`, and one column, `<figures dir>/column/<name>.<ext>`; each
# canvas is exactly this wide, so its text prints at the size it was drawn (>= 8 pt).
FIGURE_SIZES: dict[str, float] = {"full": 7.0, "column": 3.3}  # size -> width in inches
FIGURE_SUBDIRS: dict[str, str] = {"full": "", "column": "column"}  # size -> folder under the figures dir

# Captions (for `snakemake --report`): one static file per figure and table under
# workflow/report/captions/, read by pps.plan.figure_captions.


def figure_stem(name: str, size: str = "full") -> str:
    """A figure's path under the figures dir without the extension: 'across_maps', 'column/across_maps'."""
    sub = FIGURE_SUBDIRS[size]
    return f"{sub}/{name}" if sub else name


def figure_file(name: str, ext: str, size: str = "full") -> str:
    """A figure's path under the figures dir: 'learning_curves.png', 'column/learning_curves.png'."""
    return f"{figure_stem(name, size)}.{ext}"


def figure_files(names: tuple[str, ...] = FIGURE_NAMES) -> list[str]:
    """Every figure file at every size, e.g. ['learning_curves.png', 'learning_curves.pdf',
    'column/learning_curves.png', ...]."""
    return [figure_file(n, ext, size) for size in FIGURE_SIZES for n in names for ext in FIGURE_FORMATS]


# `pps export --format F` -> results/<EXPORT_FILES[F]> (the workflow asks for every format).
EXPORT_FILES: dict[str, str] = {
    "marl-eval": "marl_eval.json",  # per-episode values and absolute metrics in InstaDeep marl-eval's layout
}
EXPORT_FORMATS: tuple[str, ...] = tuple(EXPORT_FILES)


# --------------------------------------------------------------------------- studies
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

# `pps compare A B` -> <out>/ and <out>/figures/ (a study of two result trees, outside the workflow)
COMPARE_FILES: tuple[str, ...] = (
    "compare.csv",  # per matched cell and measure (final score, AUC): both sides, B - A with CI, tests, verdict
    "compare_runs.csv",  # per run: side, cell, seed, final score, AUC
    "compare.md",  # the verdicts, what differs between the sides' run.json, and the table
)
COMPARE_FIGURE = "compare"
MIN_AGENT_COUNTS = 2


def scaling_applies(agent_counts) -> bool:
    """Whether maps with these agent counts make a scaling study (>= MIN_AGENT_COUNTS distinct)."""
    return len(set(agent_counts)) >= MIN_AGENT_COUNTS
