"""Options that several commands share, written once so their help reads the same everywhere."""

from __future__ import annotations

import argparse


def add_annotate(parser: argparse.ArgumentParser) -> None:
    """`--annotate`: draft figures with a title and a note on the canvas."""
    parser.add_argument("--annotate", action="store_true",
                        help="draft figures: a title and a note (n, CI method, score) on the canvas; by default "
                             "the canvas holds only the plot, since a paper sets the caption "
                             "(workflow/report/captions/figures/, figures/README.md)")
