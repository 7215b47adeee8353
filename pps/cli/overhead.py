"""`pps overhead`: every complete run's run.json -> results/overhead.csv, overhead_summary.csv
and figures/overhead.{png,pdf} (where the wall-clock went, and what each method costs over the
baseline). Works on any results tree: runs from before the accounting are marked `untimed`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=Path, default=Path("results/runs"), help="folder holding <env>/<map>/<method>/<interval or ->/seed<k>/ (default: results/runs)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="where overhead.csv and overhead_summary.csv go (default: results)")
    parser.add_argument("--figures", type=Path, default=Path("figures"), help="where overhead.png and overhead.pdf go (default: figures)")
    parser.add_argument("--baseline", default="qmix", help="method whose cost every other is compared with (default: qmix)")
    parser.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the ratio CIs, so the table is identical each time (default: 0)")
    parser.add_argument("--skip-invalid", action="store_true", help="leave out runs whose files break the contract instead of stopping")


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")

    from pps.analysis import io
    from pps.analysis.outputs import FIGURE_FORMATS, OVERHEAD_FIGURE, OVERHEAD_FILES
    from pps.analysis.overhead import TIMING_UNTIMED, accounting_problems, overhead_runs, summarise
    from pps.analysis.runs import load_runs
    from pps.analysis.study_plots import overhead_figure
    from pps.errors import choice_error
    from pps.methods import METHODS

    if args.baseline not in METHODS:  # a typo would otherwise write tables without a single ratio
        raise choice_error("baseline method", args.baseline, METHODS)
    report = lambda line: print(f"pps overhead: {line}", file=sys.stderr)  # noqa: E731
    runs = load_runs(args.runs, skip_invalid=args.skip_invalid, report=report)
    table = overhead_runs(runs, runs_root=Path(args.runs))
    for line in accounting_problems(table):
        report(f"warning: {line}")
    untimed = int((table["timing"] == TIMING_UNTIMED).sum())
    if untimed:
        report(f"{untimed} of {len(table)} run(s) have no time_s in run.json (trained before the overhead "
               f"accounting): their wall-clock counts, their split by section is unknown")
    summary = summarise(table, args.baseline, seed=args.bootstrap_seed)
    fig = overhead_figure(summary, table, args.baseline)  # everything is made before anything is written
    tables = dict(zip((Path(args.out) / name for name in OVERHEAD_FILES), (table, summary), strict=True))
    io.write_study(tables, fig, Path(args.figures) / OVERHEAD_FIGURE, FIGURE_FORMATS)
    print(f"pps overhead: {len(table)} runs -> {', '.join(str(Path(args.out) / n) for n in OVERHEAD_FILES)}, "
          f"{Path(args.figures) / OVERHEAD_FIGURE}.{{{','.join(FIGURE_FORMATS)}}}")
    return 0
