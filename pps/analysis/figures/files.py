"""Figure files: each format written atomically (`pps.atomic`) and reproducibly, at every print size.

Like the tables (`pps.analysis.data.io`), a figure goes to a temporary file in its folder and
is then renamed into place, so a reader never sees half a figure and an interrupted command
leaves the previous version intact. Each figure is drawn once per print size
(`layout.SIZES`) and written to `<folder>/<name>.<fmt>` (full width) and
`<folder>/column/<name>.<fmt>` (`pps.analysis.outputs.figure_file`). The canvas is saved as
drawn, not trimmed to its contents, so the file is exactly as wide as it prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from pps.analysis.data.io import write_csv
from pps.analysis.figures.layout import DPI, SIZES, Size
from pps.analysis.outputs import figure_stem
from pps.atomic import atomic_path

Maker = Callable[[Size], Figure]  # draws one figure at one print size


def save_figure(fig: Figure, path_stem: str | os.PathLike, formats: tuple[str, ...]) -> list[Path]:
    """Save `fig` as `<path_stem>.<fmt>` for each format, each atomically and reproducibly.

    PDF metadata dates are pinned (None) so the same data gives the same bytes; the canvas is
    kept whole (no `bbox_inches="tight"`), so the file is as wide as the figure was drawn.
    """
    _freeze_layout(fig)
    written = []
    for fmt in formats:
        path = Path(f"{path_stem}.{fmt}")
        metadata = {"CreationDate": None, "ModDate": None} if fmt == "pdf" else {"Software": None}
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=DPI, metadata=metadata)
        written.append(path)
    return written


def _freeze_layout(fig: Figure) -> None:
    """Keep the layout the figure was drawn and checked with (`layout.finish`, at the figure's
    dpi; laid out again here only if it changed since) for every format.

    Without this, each `savefig` ran the constrained layout again at its own dpi (300 for the
    PNG, 72 for the PDF), every tick label measured anew: a third of the time of `pps plot`,
    for positions that differ by a fraction of a point.
    """
    if not isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine):
        return
    if fig.stale:  # changed since `layout.finish` last laid it out
        fig.draw_without_rendering()
    fig.set_layout_engine("none")


def _draw_all(makers: Mapping[str, Maker]) -> dict[tuple[str, Size], Figure]:
    """Every figure at every size; on a failure, the ones drawn so far are closed."""
    figures: dict[tuple[str, Size], Figure] = {}
    try:
        for size in SIZES:
            for name, make in makers.items():
                figures[(name, size)] = make(size)
    except BaseException:
        _close(figures)
        raise
    return figures


def _close(figures: Mapping[tuple[str, Size], Figure]) -> None:
    for fig in figures.values():
        plt.close(fig)


def _save_all(figures: Mapping[tuple[str, Size], Figure], folder: Path, formats: tuple[str, ...]) -> None:
    for (name, size), fig in figures.items():
        save_figure(fig, folder / figure_stem(name, size.name), formats)


def write_figures(makers: Mapping[str, Maker], folder: Path, formats: tuple[str, ...]) -> None:
    """Draw every figure at every print size, then write each as `<folder>/[column/]<name>.<fmt>`
    (nothing is written when one fails to draw), then close them all, also when a write fails."""
    figures = _draw_all(makers)
    try:
        _save_all(figures, folder, formats)
    finally:
        _close(figures)


def write_study(tables: dict[Path, pd.DataFrame], name: str, make: Maker, folder: Path,
                formats: tuple[str, ...]) -> None:
    """A study command's outputs: the figure drawn at every size, then each table as CSV, then
    the figure in every format and size, then the figures closed (also when a write fails). The
    caller computes the tables first, so a failure while computing or drawing leaves the
    previous outputs as they were."""
    figures = _draw_all({name: make})
    try:
        for path, table in tables.items():
            write_csv(path, table)
        _save_all(figures, folder, formats)
    finally:
        _close(figures)
