"""`pps aggregate`: every complete run -> results/curves.csv and results/final.csv."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pps.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=Path, default=Path("results/runs"), help="folder holding <env>/<map>/<method>/<interval or ->/seed<k>/ (default: results/runs)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="where curves.csv and final.csv go (default: results)")
    parser.add_argument("--final-window", type=int, default=3, help="final score = mean of each run's last N evaluations (default: 3)")
    parser.add_argument("--skip-invalid", action="store_true", help="leave out runs whose files break the contract (wrong columns, mismatched run.json) instead of stopping")


def run(args: argparse.Namespace) -> int:
    from pps.analysis import io
    from pps.analysis.aggregate import aggregate, comparability_warnings
    from pps.analysis.outputs import AGGREGATE_FILES
    from pps.analysis.runs import load_runs

    if args.final_window < 1:
        raise UserError(f"--final-window must be at least 1 (got {args.final_window}).")
    report = lambda line: print(f"pps aggregate: {line}", file=sys.stderr)  # noqa: E731
    runs = load_runs(args.runs, skip_invalid=args.skip_invalid, report=report)
    for line in comparability_warnings(runs):
        report(line)
    curves, final = aggregate(runs, args.final_window, runs_root=Path(args.runs))
    assert AGGREGATE_FILES == ("curves.csv", "final.csv")
    out = Path(args.out)  # everything is computed before anything is written
    io.write_curves_csv(out / "curves.csv", curves)
    io.write_csv(out / "final.csv", final)
    print(f"pps aggregate: {len(runs)} runs -> {', '.join(str(Path(args.out) / n) for n in AGGREGATE_FILES)}")
    return 0
