"""`pps overhead`: every complete run's run.json -> results/overhead.csv, overhead_summary.csv
and figures/[column/]overhead.{png,pdf} (where the wall-clock went, and what each method costs over the
baseline). Works on any results tree: runs from before the accounting are marked `untimed`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pps.analysis import commands
from pps.cli.options import add_annotate, add_bootstrap_seed, add_skip_invalid


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=Path, default=Path("results/runs"),
                        help="folder holding <env>/<map>/<method>/<interval or ->/seed<k>/ (default: results/runs)")
    parser.add_argument("--out", type=Path, default=Path("results"),
                        help="where overhead.csv and overhead_summary.csv go (default: results)")
    parser.add_argument("--figures", type=Path, default=Path("figures"),
                        help="where overhead.png and overhead.pdf go, and column/ with the one-column size "
                             "(default: figures)")
    parser.add_argument("--baseline", default="qmix",
                        help="method whose cost every other is compared with (default: qmix)")
    add_bootstrap_seed(parser, "the ratio CIs")
    add_skip_invalid(parser)
    add_annotate(parser)


def run(args: argparse.Namespace) -> int:
    line = commands.overhead(args.runs, args.out, args.figures, baseline=args.baseline, seed=args.bootstrap_seed,
                             skip_invalid=args.skip_invalid, annotate=args.annotate,
                             report=lambda text: print(f"pps overhead: {text}", file=sys.stderr))
    print(f"pps overhead: {line}")
    return 0
