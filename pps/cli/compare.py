"""`pps compare A B`: two folders of runs of one grid that differ in one setting (a run key,
a device, a commit) -> compare.csv, compare_runs.csv, compare.md and figures/compare.*: per
cell, each side's final score and learning-curve area, B - A with its CI, the tests, and
whether any difference was detected (`pps.analysis.studies.compare`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pps.analysis import commands
from pps.cli.options import add_annotate, add_bootstrap_seed, add_skip_invalid


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs_a", type=Path, metavar="A",
                        help="folder holding <env>/<map>/<method>/<interval or ->/seed<k>/, e.g. results/runs")
    parser.add_argument("runs_b", type=Path, metavar="B", help="the same for the other setting")
    parser.add_argument("--names", nargs=2, default=("A", "B"), metavar=("NAME_A", "NAME_B"),
                        help="what to call the two sides in the tables and figure, e.g. fp32 bf16 (default: A B)")
    parser.add_argument("--out", type=Path, default=Path("results/compare"),
                        help="where the tables go; the figure goes to <out>/figures (default: results/compare)")
    parser.add_argument("--final-window", type=int, default=3,
                        help="evaluations averaged into a run's final score (default: 3, as pps collect)")
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="false-positive rate of the 'differs' verdict over the whole table (default: 0.05)")
    add_bootstrap_seed(parser, "the CIs and bands")
    add_skip_invalid(parser)
    add_annotate(parser)


def run(args: argparse.Namespace) -> int:
    line = commands.compare(args.runs_a, args.runs_b, args.out, names=tuple(args.names),
                            final_window=args.final_window, seed=args.bootstrap_seed, alpha=args.alpha,
                            skip_invalid=args.skip_invalid, annotate=args.annotate,
                            report=lambda text: print(f"pps compare: {text}", file=sys.stderr))
    print(f"pps compare: {line}")
    return 0
