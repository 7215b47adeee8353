"""One function per analysis command: collect, stats, plot, overhead, scaling, compare, export.

Each takes plain values (folders, options), checks them (a `UserError` says what is wrong),
reads its inputs, computes every output before writing any (so a failure leaves the previous
outputs as they were), writes them atomically and returns the line the command prints. Lines
for the log (excluded runs, warnings) go to `report`. The `pps` command line
(`pps.cli.collect`, ...) only parses arguments and calls these; `compute_stats` is the pure
core of `stats` (tables in, every output out) for callers that hold the tables already.

The figure modules are imported inside `plot`, `overhead` and `scaling`: they import
matplotlib and seaborn (about a second), which `pps collect` and `pps stats` must not pay for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from pps.analysis.claims.rules import HIGH_DIM_MAPS
from pps.analysis.convergence import run_convergence, speedup_table
from pps.analysis.data import io, marl_eval
from pps.analysis.data.cells import CELL_COLUMNS, chosen_cells, method_label
from pps.analysis.data.collect import collect as collect_runs
from pps.analysis.data.collect import comparability_warnings
from pps.analysis.data.runs import load_runs
from pps.analysis.outputs import (
    COLLECT_FILES,
    COMPARE_FIGURE,
    COMPARE_FILES,
    EXPORT_FILES,
    FIGURE_FORMATS,
    FIGURE_NAMES,
    MIN_AGENT_COUNTS,
    OVERHEAD_FIGURE,
    OVERHEAD_FILES,
    SCALING_FIGURE,
    SCALING_FILES,
    STATS_FILES,
    figure_files,
)
from pps.analysis.render import tables as T
from pps.analysis.render.claims import claims_markdown
from pps.analysis.stats.figure_data import (
    learning_curve_bands,
    performance_profiles,
    sample_efficiency,
    wallclock_medians,
    wallclock_runs,
)
from pps.analysis.stats.tables import across_maps, cell_stats
from pps.analysis.studies.overhead import RUN_COLUMNS, TIMING_UNTIMED, accounting_problems, overhead_runs, summarise
from pps.analysis.studies.scaling import agent_counts, enough_agent_counts, scaling_table, score_column
from pps.atomic import write_text
from pps.errors import UserError, choice_error
from pps.methods import METHODS
from pps.run_folder import RUNS_DIR

Report = Callable[[str], None]

FINAL_COLUMNS = ("env", "map", "method", "interval", "seed", "score_kind", "final_score")
STATS_COLUMNS = ("env", "map", "method", "interval", "n", "iqm", "baseline")
ACROSS_MAPS_COLUMNS = ("method", "interval", "iqm")
SPEEDUP_COLUMNS = ("env", "map", "method", "interval", "threshold", "median_steps")
NEED_COLLECT = "run `pps collect` first"
NEED_STATS = "run `pps stats` first"


def _ignore(_: str) -> None:
    pass


def _known_baseline(baseline: str) -> None:
    if baseline not in METHODS:  # a typo would otherwise write every comparison empty
        raise choice_error("baseline method", baseline, METHODS)


# --------------------------------------------------------------------------- collect
def collect(runs: Path, out: Path, *, final_window: int = 3, skip_invalid: bool = False,
            report: Report = _ignore) -> str:
    """Every complete run under `runs` -> `out`/curves.csv and final.csv (COLLECT_FILES)."""
    runs, out = Path(runs), Path(out)
    if final_window < 1:
        raise UserError(f"--final-window must be at least 1 (got {final_window}).")
    found = load_runs(runs, skip_invalid=skip_invalid, report=report)
    for line in comparability_warnings(found):
        report(line)
    curves, final = collect_runs(found, final_window, runs_root=runs)
    io.write_curves_csv(out / COLLECT_FILES[0], curves)
    io.write_csv(out / COLLECT_FILES[1], final)
    return f"{len(found)} runs -> {', '.join(str(out / n) for n in COLLECT_FILES)}"


# --------------------------------------------------------------------------- export
def export(results: Path, out: Path | None = None, *, fmt: str = "marl-eval", skip_invalid: bool = False,
           report: Report = _ignore) -> str:
    """Every complete run under `results`/runs -> `out` (default `results`/marl_eval.json) in
    marl-eval's JSON layout (`pps.analysis.data.marl_eval`). Runs without per-episode values
    are left out, one line each to `report`; so is every break of marl-eval's one-grid-per-
    environment rule."""
    if fmt not in EXPORT_FILES:
        raise choice_error("export format", fmt, EXPORT_FILES)
    results = Path(results)
    out = Path(out) if out is not None else results / EXPORT_FILES[fmt]
    found = load_runs(results / RUNS_DIR, skip_invalid=skip_invalid, report=report)
    try:
        made = marl_eval.build(found)
    except ValueError as err:
        raise UserError(f"Cannot export to marl-eval: {err}.") from None
    for line in made.left_out:
        report(f"left out {line}")
    if not made.runs:
        raise UserError(f"None of the {len(found)} complete runs under {results / RUNS_DIR} has per-episode values "
                        f"and an absolute evaluation (listed above); runs trained by this version have both.")
    for line in marl_eval.problems(made.data):
        report(f"warning: {line}")
    write_text(out, json.dumps(made.data, separators=(",", ":")) + "\n")
    left = f" ({len(made.left_out)} left out, listed above)" if made.left_out else ""
    return f"{made.runs} runs{left} -> {out}"


# --------------------------------------------------------------------------- stats
def final_window_text(final: pd.DataFrame) -> str:
    w = sorted(set(int(x) for x in final.get("final_window", pd.Series(dtype=int)).dropna()))
    if not w:
        return "final evaluations"
    return f"mean of the last {w[0]} evaluations" if len(w) == 1 else f"mean of the last {w[0]}–{w[-1]} evaluations"


def compute_stats(final: pd.DataFrame, curves: pd.DataFrame, *, baseline: str, thresholds: Sequence[float],
                  smooth_window: int, seed: int, claims_interval: int,
                  high_dim: tuple[str, ...] = HIGH_DIM_MAPS) -> dict[str, pd.DataFrame | str]:
    """name (relative to the results folder) -> DataFrame (CSV) or str (text), for every STATS_FILES entry."""
    fw = final_window_text(final)
    base_label = method_label(baseline)
    stats = cell_stats(final, baseline, seed)
    across = across_maps(final, baseline, seed)
    conv = run_convergence(curves, thresholds, smooth_window)
    speed = speedup_table(conv, baseline, seed)
    out = {
        "stats.csv": stats,
        "across_maps.csv": across,
        "convergence.csv": conv,
        "speedup.csv": speed,
        "tables/stats.md": T.stats_markdown(stats, base_label, fw),
        "tables/stats.tex": T.stats_latex(stats, base_label, fw),
        "tables/convergence.md": T.convergence_markdown(speed, base_label, smooth_window),
        "tables/convergence.tex": T.convergence_latex(speed, base_label, smooth_window),
        "tables/claims.md": claims_markdown(final, baseline=baseline, claims_interval=claims_interval,
                                            high_dim=high_dim, seed=seed, final_window=fw),
        "tables/across_maps.md": T.across_maps_markdown(across),
        "tables/across_maps.tex": T.across_maps_latex(across),
    }
    assert tuple(out) == STATS_FILES, "pps.analysis.outputs.STATS_FILES and compute_stats disagree"
    return out


def stats(results: Path, *, baseline: str = "qmix", thresholds: Sequence[float] = (0.5, 0.8), smooth_window: int = 3,
          seed: int = 0, claims_interval: int = 300, high_dim: tuple[str, ...] | None = None,
          report: Report = _ignore) -> str:
    """`results`/curves.csv and final.csv -> every STATS_FILES entry in `results`."""
    results = Path(results)
    _known_baseline(baseline)
    for t in thresholds:
        if not 0 < t <= 1:
            raise UserError(f"--thresholds are scores in (0, 1] (a win rate, or the fraction of the way from a random "
                            f"policy's return to the reference return); got {t}.")
    if smooth_window < 1:
        raise UserError(f"--smooth-window must be at least 1 (got {smooth_window}).")
    final = io.read_table(results / "final.csv", NEED_COLLECT, FINAL_COLUMNS)
    curves = io.read_table(results / "curves.csv", NEED_COLLECT, io.CURVES_COLUMNS)
    if final.empty:
        raise UserError(f"{results / 'final.csv'} holds no runs; run `pps collect` on a folder with complete runs.")
    if baseline not in set(final["method"]):
        present = sorted(set(final["method"]))
        report(f"warning: baseline '{baseline}' has no runs in {results / 'final.csv'} "
               f"(methods present: {', '.join(present)}). Comparisons are left empty.")
    outputs = compute_stats(final, curves, baseline=baseline, thresholds=sorted(set(thresholds)),
                            smooth_window=smooth_window, seed=seed, claims_interval=claims_interval,
                            high_dim=tuple(high_dim) if high_dim else HIGH_DIM_MAPS)
    for name, content in outputs.items():  # all computed before anything is written
        if isinstance(content, str):
            write_text(results / name, content)
        else:
            io.write_csv(results / name, content)
    return f"{len(final)} runs -> {', '.join(str(results / n) for n in outputs)}"


# --------------------------------------------------------------------------- plot
def plot(results: Path, out: Path, *, baseline: str | None = None, claims_interval: int = 300, seed: int = 0,
         annotate: bool = False) -> str:
    """The results tables -> `out`/<name>.<ext> and `out`/column/<name>.<ext> for every
    FIGURE_NAMES entry and FIGURE_FORMATS ext (`annotate`: titles and notes on the canvas)."""
    from pps.analysis.figures.files import write_figures  # matplotlib: see the module docstring
    from pps.analysis.figures.paper import all_figures

    results, out = Path(results), Path(out)
    need = "run `pps collect` then `pps stats` first"
    curves = io.read_table(results / "curves.csv", need, io.CURVES_COLUMNS)
    final = io.read_table(results / "final.csv", need, FINAL_COLUMNS)
    stats_ = io.read_table(results / "stats.csv", NEED_STATS, STATS_COLUMNS)
    across = io.read_table(results / "across_maps.csv", NEED_STATS, ACROSS_MAPS_COLUMNS)
    speed = io.read_table(results / "speedup.csv", NEED_STATS, SPEEDUP_COLUMNS)
    if final.empty:
        raise UserError(f"{results / 'final.csv'} holds no runs; nothing to plot.")
    baseline = baseline or (stats_["baseline"].dropna().iloc[0] if stats_["baseline"].notna().any() else "qmix")
    chosen = chosen_cells(final, claims_interval)
    wall = wallclock_runs(final)
    makers = all_figures(final=final, stats=stats_, across=across, speed=speed,
                         bands=learning_curve_bands(curves, chosen, seed), wall_runs=wall,
                         wall_medians=wallclock_medians(wall, seed),
                         profiles=performance_profiles(final, chosen, seed),
                         efficiency=sample_efficiency(curves, final, chosen, seed), chosen=chosen,
                         baseline=baseline, claims_interval=claims_interval, annotate=annotate)
    assert tuple(makers) == FIGURE_NAMES, "pps.analysis.outputs.FIGURE_NAMES and figures.paper.all_figures disagree"
    write_figures(makers, out, FIGURE_FORMATS)
    n_files = len(figure_files(tuple(makers)))
    return f"{n_files} files -> {out}/ and {out}/column/ ({', '.join(FIGURE_NAMES)})"


# --------------------------------------------------------------------------- the studies
def overhead(runs: Path, out: Path, figures: Path, *, baseline: str = "qmix", seed: int = 0,
             skip_invalid: bool = False, annotate: bool = False, report: Report = _ignore) -> str:
    """Every complete run's run.json -> `out`/overhead.csv, overhead_summary.csv and
    `figures`/[column/]overhead.{png,pdf}."""
    from pps.analysis.figures.files import write_study  # matplotlib: see the module docstring
    from pps.analysis.figures.studies import overhead_figure

    runs, out, figures = Path(runs), Path(out), Path(figures)
    _known_baseline(baseline)
    found = load_runs(runs, skip_invalid=skip_invalid, report=report)
    table = overhead_runs(found, runs_root=runs)
    for line in accounting_problems(table):
        report(f"warning: {line}")
    untimed = int((table["timing"] == TIMING_UNTIMED).sum())
    if untimed:
        report(f"{untimed} of {len(table)} run(s) have no time_s in run.json (trained before the overhead "
               f"accounting): their wall-clock counts, their split by section is unknown")
    summary = summarise(table, baseline, seed=seed)
    tables = dict(zip((out / name for name in OVERHEAD_FILES), (table, summary), strict=True))
    write_study(tables, OVERHEAD_FIGURE,  # the figure is drawn before anything is written
                lambda size: overhead_figure(summary, table, baseline, size=size, annotate=annotate),
                figures, FIGURE_FORMATS)
    return (f"{len(table)} runs -> {', '.join(str(out / n) for n in OVERHEAD_FILES)}, "
            f"{figures}/[column/]{OVERHEAD_FIGURE}.{{{','.join(FIGURE_FORMATS)}}}")


def scaling(results: Path, figures: Path, *, baseline: str = "qmix", claims_interval: int = 300, seed: int = 0,
            annotate: bool = False) -> str:
    """`results`/final.csv and overhead.csv -> `results`/scaling.csv and
    `figures`/[column/]scaling.{png,pdf}; refuses, writing nothing, with fewer than
    MIN_AGENT_COUNTS distinct agent counts."""
    from pps.analysis.figures.files import write_study  # matplotlib: see the module docstring
    from pps.analysis.figures.studies import scaling_figure

    results, figures = Path(results), Path(figures)
    final = io.read_table(results / "final.csv", NEED_COLLECT, ("env", "map", "method", "interval", "seed"))
    overhead_table = io.read_table(results / "overhead.csv", "run `pps overhead` first",
                                   RUN_COLUMNS[:6] + ("learner_ms_per_update", "steps_per_s", "peak_rss_mb",
                                                      "h_per_mstep"))
    if final.empty:
        raise UserError(f"{results / 'final.csv'} holds no runs; nothing to scale.")
    counts = agent_counts(final)
    if not enough_agent_counts(counts.values()):
        found = ", ".join(f"{m} ({n:g} agents)" if n == n else f"{m} (unknown)" for (_, m), n in counts.items())
        raise UserError(
            f"A scaling study needs runs on maps with at least {MIN_AGENT_COUNTS} different numbers of agents; "
            f"{results / 'final.csv'} has {found}. Train more maps (workflow/config/scaling.yaml) first.")
    if baseline not in set(final["method"]):
        raise UserError(f"The baseline '{baseline}' has no runs in {results / 'final.csv'} "
                        f"(methods: {', '.join(sorted(set(final['method'])))}); pass --baseline.")
    try:
        score_column(final)
    except ValueError as err:
        raise UserError(f"{results / 'final.csv'}: {err}; re-run `pps collect`.") from None
    table = scaling_table(final, overhead_table, baseline, seed=seed)
    write_study({results / SCALING_FILES[0]: table}, SCALING_FIGURE,
                lambda size: scaling_figure(table, overhead_table, baseline, claims_interval, size=size,
                                            annotate=annotate),
                figures, FIGURE_FORMATS)
    return (f"{len(table)} cells on {len(counts)} maps -> {results / SCALING_FILES[0]}, "
            f"{figures}/[column/]{SCALING_FIGURE}.{{{','.join(FIGURE_FORMATS)}}}")


def compare(runs_a: Path, runs_b: Path, out: Path, *, names: tuple[str, str] = ("A", "B"), final_window: int = 3,
            seed: int = 0, alpha: float = 0.05, skip_invalid: bool = False, annotate: bool = False,
            report: Report = _ignore) -> str:
    """Two folders of runs of one grid -> `out`/compare.csv, compare_runs.csv, compare.md and
    `out`/figures/[column/]compare.{png,pdf} (`pps.analysis.studies.compare`). Refuses,
    writing nothing, when no cell has runs on both sides."""
    from pps.analysis.figures.files import write_study  # matplotlib: see the module docstring
    from pps.analysis.figures.studies import compare_figure
    from pps.analysis.studies import compare as ab

    runs_a, runs_b, out = Path(runs_a), Path(runs_b), Path(out)
    if final_window < 1:
        raise UserError(f"--final-window must be at least 1, got {final_window}.")
    if not 0 < alpha < 1:
        raise UserError(f"--alpha must be between 0 and 1, got {alpha:g}.")
    if names[0] == names[1]:
        raise UserError(f"The two sides need different names, got '{names[0]}' twice (--names A B).")
    sides = []
    for name, folder in zip(names, (runs_a, runs_b)):
        if not folder.is_dir():
            raise UserError(f"{folder} ({name}) is not a folder of runs: give the folder that holds "
                            f"<env>/<map>/<method>/<interval or ->/seed<k>/ (e.g. results/runs).")
        found = load_runs(folder, skip_invalid=skip_invalid, report=report)
        if not found:
            raise UserError(f"{folder} ({name}) holds no finished run.")
        sides.append(found)
    curves = ab.run_curves(*sides)
    measures = ab.run_measures(curves, final_window)
    table = ab.compare_cells(measures, seed=seed, alpha=alpha)
    unmatched = ab.unmatched_cells(measures)
    for line in unmatched:
        report(f"left out, trained on one side only: {line}")
    if table.empty:
        raise UserError(f"No cell (env, map, method, interval) has runs in both {runs_a} and {runs_b}; "
                        f"nothing to compare.")
    differing = ab.differing_keys(*sides)
    bands = ab.curve_bands(ab.score_curves(curves), seed)
    md = T.compare_markdown(table, names, differing, unmatched, final_window, alpha)
    files = dict(zip((out / n for n in COMPARE_FILES[:2]), (table, measures), strict=True))
    write_study(files, COMPARE_FIGURE,
                lambda size: compare_figure(bands, table, names, size=size, annotate=annotate),
                out / "figures", FIGURE_FORMATS)
    write_text(out / COMPARE_FILES[2], md)
    verdicts = table.drop_duplicates(CELL_COLUMNS)["verdict"].value_counts()
    summary = ", ".join(f"{n} {v}" for v, n in verdicts.items())
    return f"{int(verdicts.sum())} cell(s): {summary} -> {out}/{{{','.join(COMPARE_FILES)}}}"
