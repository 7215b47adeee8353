"""`pps export`: every complete run's per-episode evaluations in another tool's format (marl-eval's JSON)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pps.analysis import commands
from pps.analysis.outputs import EXPORT_FILES, EXPORT_FORMATS
from pps.cli.options import add_skip_invalid


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", dest="fmt", choices=EXPORT_FORMATS, default=EXPORT_FORMATS[0],
                        help="marl-eval: InstaDeep marl-eval's JSON (per-episode return, win_rate where a task is won "
                             "or lost, and the suite's score, at every evaluation, plus absolute_metrics from the "
                             "final evaluation) (default: marl-eval)")
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="the results folder whose runs/ holds <env>/<map>/<method>/<interval or ->/seed<k>/ "
                             "(default: results)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"the file to write (default: <results>/{EXPORT_FILES[EXPORT_FORMATS[0]]})")
    add_skip_invalid(parser)


def run(args: argparse.Namespace) -> int:
    line = commands.export(args.results, args.out, fmt=args.fmt, skip_invalid=args.skip_invalid,
                           report=lambda text: print(f"pps export: {text}", file=sys.stderr))
    print(f"pps export: {line}")
    return 0
