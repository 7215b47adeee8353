"""Figure files: each format written atomically (`pps.atomic`) and reproducibly.

Like the tables (`pps.analysis.data.io`), a figure goes to a temporary file in its folder and
is then renamed into place, so a reader never sees half a figure and an interrupted command
leaves the previous version intact.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from pps.analysis.data.io import write_csv
from pps.atomic import atomic_path


def save_figure(fig: Figure, path_stem: str | os.PathLike, formats: tuple[str, ...]) -> list[Path]:
    """Save `fig` as `<path_stem>.<fmt>` for each format, each atomically and reproducibly.

    PDF metadata dates are pinned (None) so the same data gives the same bytes.
    """
    written = []
    for fmt in formats:
        path = Path(f"{path_stem}.{fmt}")
        metadata = {"CreationDate": None, "ModDate": None} if fmt == "pdf" else {"Software": None}
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight", metadata=metadata)
        written.append(path)
    return written


def write_figures(makers: Mapping[str, Callable[[], Figure]], folder: Path, formats: tuple[str, ...]) -> None:
    """Draw every figure, then write each as `<folder>/<name>.<fmt>` (nothing is written when
    one fails to draw), then close them all, also when a write fails."""
    figures: dict[str, Figure] = {}
    try:
        for name, make in makers.items():
            figures[name] = make()
        for name, fig in figures.items():
            save_figure(fig, folder / name, formats)
    finally:
        for fig in figures.values():
            plt.close(fig)


def write_study(tables: dict[Path, pd.DataFrame], fig: Figure, figure_stem: Path,
                formats: tuple[str, ...]) -> None:
    """A study command's outputs: each table as CSV, then the figure in every format, then the
    figure closed (also when a write fails). The caller builds everything first, so a
    failure while computing leaves the previous outputs as they were."""
    try:
        for path, table in tables.items():
            write_csv(path, table)
        save_figure(fig, figure_stem, formats)
    finally:
        plt.close(fig)
