"""Options that several commands share, written once so their help reads the same everywhere."""

from __future__ import annotations

import argparse


def add_annotate(parser: argparse.ArgumentParser) -> None:
    """`--annotate`: draft figures with a title and a note on the canvas."""
    parser.add_argument("--annotate", action="store_true",
                        help="draft figures: a title and a note (n, CI method, score) on the canvas; by default "
                             "the canvas holds only the plot, since a paper sets the caption "
                             "(workflow/report/captions/figures/, figures/README.md)")


def add_skip_invalid(parser: argparse.ArgumentParser) -> None:
    """`--skip-invalid`: leave out runs that break the run-folder contract instead of stopping."""
    parser.add_argument("--skip-invalid", action="store_true",
                        help="leave out runs whose files break the contract (wrong columns, mismatched run.json) "
                             "instead of stopping")


def add_bootstrap_seed(parser: argparse.ArgumentParser, what: str = "the CIs") -> None:
    """`--bootstrap-seed`: the seed of every resample, so the outputs are identical each time."""
    parser.add_argument("--bootstrap-seed", type=int, default=0,
                        help=f"seed of {what}, so the outputs are identical each time (default: 0)")
