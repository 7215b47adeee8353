"""`pps plot`: the results tables -> figures/<name>.png and .pdf (full text width, 7 in) and
figures/column/<name>.png and .pdf (one column, 3.3 in) for every FIGURE_NAMES entry."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pps.analysis import commands
from pps.cli.options import add_annotate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="folder written by pps collect and pps stats (default: results)")
    parser.add_argument("--out", type=Path, default=Path("figures"),
                        help="where the figures go; the one-column size goes to OUT/column (default: figures)")
    parser.add_argument("--baseline", default=None,
                        help="baseline method (default: the one pps stats used, from stats.csv)")
    parser.add_argument("--claims-interval", type=int, default=300,
                        help="K at which PPS methods appear in the learning-curve and final-performance figures; the "
                             "nearest K if absent (default: 300)")
    parser.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the CI bands (default: 0)")
    add_annotate(parser)


def keywords(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed options as `commands.plot`'s keyword arguments (`pps evidence` records them)."""
    return dict(baseline=args.baseline, claims_interval=args.claims_interval, seed=args.bootstrap_seed,
                annotate=args.annotate)


def run(args: argparse.Namespace) -> int:
    line = commands.plot(args.results, args.out, **keywords(args))
    print(f"pps plot: {line}")
    return 0
