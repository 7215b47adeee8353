"""`pps stats`: curves.csv + final.csv -> statistics, convergence and claims tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pps.analysis import commands


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="folder holding curves.csv and final.csv; outputs go here too (default: results)")
    parser.add_argument("--baseline", default="qmix", help="method every other method is compared with (default: qmix)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.8],
                        help="scores for steps-to-threshold: test win rates, or normalised returns on tasks without "
                             "a win condition (default: 0.5 0.8)")
    parser.add_argument("--smooth-window", type=int, default=3,
                        help="trailing moving average over N evaluations before thresholding; 1 = none (default: 3)")
    parser.add_argument("--bootstrap-seed", type=int, default=0,
                        help="seed of every bootstrap, so tables are identical each time (default: 0)")
    parser.add_argument("--claims-interval", type=int, default=300,
                        help="interval K at which PPS methods are judged against the paper's claims; the nearest K "
                             "if absent (default: 300, the authors')")
    parser.add_argument("--high-dim-maps", nargs="+", default=None,
                        help="maps counted as high-dimensional for the RS-PPS claim (default: the SMAX/SMAC maps "
                             "with at least 16 units, allies + enemies, in the suite's map tables; the paper names "
                             "none)")


def keywords(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed options as `commands.stats`'s keyword arguments (`pps evidence` records them)."""
    return dict(baseline=args.baseline, thresholds=args.thresholds, smooth_window=args.smooth_window,
                seed=args.bootstrap_seed, claims_interval=args.claims_interval, high_dim=args.high_dim_maps)


def run(args: argparse.Namespace) -> int:
    line = commands.stats(args.results, **keywords(args),
                          report=lambda text: print(f"pps stats: {text}", file=sys.stderr))
    print(f"pps stats: {line}")
    return 0
