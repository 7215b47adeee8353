"""`pps calibrate`: the claim verdicts' error rates on simulated grids of known truth (about 11 minutes)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pps.analysis.claims.calibrate import calibrate
from pps.analysis.claims.calibration import CALIBRATION_RESAMPLES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trials", type=int, default=800, help="simulated grids per scenario (default 800)")
    parser.add_argument("--power-trials", type=int, default=400,
                        help="grids per point of the power curve (default 400)")
    parser.add_argument("--resamples", type=int, default=CALIBRATION_RESAMPLES,
                        help=f"Monte Carlo relabellings per test (default {CALIBRATION_RESAMPLES}; claims.md uses "
                             f"9,999)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--only", default="", help="only the scenarios whose family or name contains this text")
    parser.add_argument("--no-power", action="store_true", help="skip the power curve")
    parser.add_argument("--out", type=Path, default=Path("results/calibration"),
                        help="folder for the CSV and Markdown table")
    parser.add_argument("--write", action="store_true",
                        help="store the table as pps/analysis/claims/calibration_measured.{csv,json}, the data "
                             "claims.md quotes")


def run(args: argparse.Namespace) -> int:
    print(calibrate(trials=args.trials, power_trials=args.power_trials, resamples=args.resamples, seed=args.seed,
                    jobs=args.jobs, only=args.only, power=not args.no_power, out=args.out, write=args.write))
    return 0
