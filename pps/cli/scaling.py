"""`pps scaling`: final.csv + overhead.csv -> results/scaling.csv and
figures/[column/]scaling.{png,pdf}
(each method's score gain over the baseline and its cost against the number of agents).
Refuses, writing nothing, when the runs cover fewer than 2 distinct agent counts."""

from __future__ import annotations

import argparse
from pathlib import Path

from pps.analysis import commands
from pps.cli.options import add_annotate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="folder holding final.csv (pps collect) and overhead.csv (pps overhead); scaling.csv "
                             "goes here too (default: results)")
    parser.add_argument("--figures", type=Path, default=Path("figures"),
                        help="where scaling.png and scaling.pdf go, and column/ with the one-column size "
                             "(default: figures)")
    parser.add_argument("--baseline", default="qmix", help="method every gain is measured against (default: qmix)")
    parser.add_argument("--claims-interval", type=int, default=300,
                        help="K at which PPS methods appear in the figure; the nearest K if absent (default: 300). "
                             "The table has every K")
    parser.add_argument("--bootstrap-seed", type=int, default=0,
                        help="seed of the gain CIs, so the table is identical each time (default: 0)")
    add_annotate(parser)


def run(args: argparse.Namespace) -> int:
    line = commands.scaling(args.results, args.figures, baseline=args.baseline, claims_interval=args.claims_interval,
                            seed=args.bootstrap_seed, annotate=args.annotate)
    print(f"pps scaling: {line}")
    return 0
