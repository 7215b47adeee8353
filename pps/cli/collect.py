"""`pps collect` (old name: `pps aggregate`): every complete run -> results/curves.csv and results/final.csv."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pps.analysis import commands
from pps.cli.options import add_skip_invalid


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=Path, default=Path("results/runs"),
                        help="folder holding <env>/<map>/<method>/<interval or ->/seed<k>/ (default: results/runs)")
    parser.add_argument("--out", type=Path, default=Path("results"),
                        help="where curves.csv and final.csv go (default: results)")
    parser.add_argument("--final-window", type=int, default=3,
                        help="final score = mean of each run's last N evaluations (default: 3)")
    add_skip_invalid(parser)


def run(args: argparse.Namespace) -> int:
    line = commands.collect(args.runs, args.out, final_window=args.final_window, skip_invalid=args.skip_invalid,
                            report=lambda text: print(f"pps collect: {text}", file=sys.stderr))
    print(f"pps collect: {line}")
    return 0
