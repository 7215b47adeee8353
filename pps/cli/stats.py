"""`pps stats`: curves.csv + final.csv -> statistics, convergence and claims tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pps import atomic
from pps.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", type=Path, default=Path("results"), help="folder holding curves.csv and final.csv; outputs go here too (default: results)")
    parser.add_argument("--baseline", default="qmix", help="method every other method is compared with (default: qmix)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.8], help="scores for steps-to-threshold: test win rates, or normalised returns on tasks without a win condition (default: 0.5 0.8)")
    parser.add_argument("--smooth-window", type=int, default=3, help="trailing moving average over N evaluations before thresholding; 1 = none (default: 3)")
    parser.add_argument("--bootstrap-seed", type=int, default=0, help="seed of every bootstrap, so tables are identical each time (default: 0)")
    parser.add_argument("--claims-interval", type=int, default=300, help="interval K at which PPS methods are judged against the paper's claims; the nearest K if absent (default: 300, the authors')")
    parser.add_argument("--high-dim-maps", nargs="+", default=None, help="maps counted as high-dimensional for the RS-PPS claim (default: the SMAX/SMAC maps with at least 16 units, allies + enemies, in the suite's map tables; the paper names none)")


def run(args: argparse.Namespace) -> int:
    from pps.analysis import io
    from pps.analysis.claims import HIGH_DIM_MAPS
    from pps.analysis.pipeline import compute_stats
    from pps.methods import METHODS
    from pps.errors import choice_error

    if args.baseline not in METHODS:  # a typo would otherwise overwrite every table with empty comparisons
        raise choice_error("baseline method", args.baseline, METHODS)
    for t in args.thresholds:
        if not 0 < t <= 1:
            raise UserError(f"--thresholds are scores in (0, 1] (a win rate, or the fraction of the way from a random "
                            f"policy's return to the reference return); got {t}.")
    if args.smooth_window < 1:
        raise UserError(f"--smooth-window must be at least 1 (got {args.smooth_window}).")
    results = Path(args.results)
    final = io.read_table(results / "final.csv", "run `pps aggregate` first", ("env", "map", "method", "interval", "seed", "score_kind", "final_score"))
    curves = io.read_table(results / "curves.csv", "run `pps aggregate` first", io.CURVES_COLUMNS)
    if final.empty:
        raise UserError(f"{results / 'final.csv'} holds no runs; run `pps aggregate` on a folder with complete runs.")
    if args.baseline not in set(final["method"]):
        present = sorted(set(final["method"]))
        print(f"pps stats: warning: baseline '{args.baseline}' has no runs in {results / 'final.csv'} "
              f"(methods present: {', '.join(present)}). Comparisons are left empty.", file=sys.stderr)
    outputs = compute_stats(
        final, curves, baseline=args.baseline, thresholds=sorted(set(args.thresholds)), smooth_window=args.smooth_window,
        seed=args.bootstrap_seed, claims_interval=args.claims_interval,
        high_dim=tuple(args.high_dim_maps) if args.high_dim_maps else HIGH_DIM_MAPS,
    )
    for name, content in outputs.items():  # all computed before anything is written
        path = results / name
        if isinstance(content, str):
            atomic.write_text(path, content)
        else:
            io.write_csv(path, content)
    print(f"pps stats: {len(final)} runs -> {', '.join(str(results / n) for n in outputs)}")
    return 0
