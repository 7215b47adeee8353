"""The print layout every figure shares: two canvas widths, text of at least 8 pt, titles and
notes only on annotated drafts.

A paper prints a figure either across the text width (7 in) or in one column (3.3 in), and
LaTeX scales whatever it is given to that width: a canvas drawn wider than it prints shrinks
its text below legibility. So every figure is drawn twice, once on a canvas exactly as wide as
each print size (`SIZES`, from `pps.analysis.outputs.FIGURE_SIZES`), its panels rearranged to
fit (fewer per row in a column), and saved without trimming (`files.save_figure`), so its
fonts print at the size they were set: `MIN_FONT_PT` or more for every text.

What a figure shows is said by its caption (`workflow/report/captions/figures/`,
`figures/README.md`), not on the canvas: a paper sets its own caption, and a title drawn into
the figure would repeat it. `annotate=True` (`pps plot --annotate`, the workflow's
`figures_annotate`) adds the title and the note with n, the CI method and the score's
definition above the panels, for drafts read without the captions.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.text import Text

from pps.analysis.outputs import FIGURE_SIZES

MIN_FONT_PT = 8.0  # the smallest text on any figure, at its print size
TITLE_PT = 9.0  # panel titles; a draft's figure title
DPI = 300  # PNG resolution at print size
_CHAR_EM = 0.56  # mean advance of a DejaVu Sans character, in em: how much text fits a width
_RC = {
    "font.size": MIN_FONT_PT, "axes.titlesize": TITLE_PT, "axes.labelsize": MIN_FONT_PT,
    "xtick.labelsize": MIN_FONT_PT, "ytick.labelsize": MIN_FONT_PT, "legend.fontsize": MIN_FONT_PT,
    "legend.title_fontsize": MIN_FONT_PT, "figure.titlesize": TITLE_PT, "axes.titlepad": 3.0,
    "axes.labelpad": 2.0, "xtick.major.pad": 2.0, "ytick.major.pad": 2.0, "lines.linewidth": 1.3,
    "lines.markersize": 4.0, "axes.linewidth": 0.6, "grid.linewidth": 0.5, "legend.handlelength": 2.6,
    "legend.columnspacing": 1.0, "legend.handletextpad": 0.4, "legend.borderaxespad": 0.2,
    # titles at a fixed height: matplotlib's automatic placement measures every y tick label
    # at every draw (a third of `pps plot`) to dodge top x labels and axis offset texts, which
    # these figures never have: ticks carry whole values, never a "+1e6" or "1e-7" at the
    # axis end (a reader misses those anyway); `print_problems` checks
    "axes.titley": 1.0,
    "axes.formatter.useoffset": False,
    "axes.formatter.limits": (-9, 9),
}


@dataclass(frozen=True)
class Size:
    """A print size: `name` ("full" or "column") and the canvas `width` in inches."""

    name: str
    width: float

    @property
    def column(self) -> bool:
        return self.name == "column"

    def cols(self, n_panels: int, full: int = 3, column: int = 1) -> int:
        """Panels per row: at most `full` across the text width, `column` in a column."""
        return max(1, min(n_panels, column if self.column else full))


SIZES: tuple[Size, ...] = tuple(Size(name, width) for name, width in FIGURE_SIZES.items())
FULL, COLUMN = SIZES


@contextmanager
def drawing() -> Iterator[None]:
    """Seaborn's white grid with the print sizes of fonts and lines: every figure is drawn inside."""
    with plt.rc_context({**sns.axes_style("whitegrid", {"grid.color": "0.9"}), **_RC}):
        yield


def new_figure(size: Size, nrows: int, ncols: int, panel_h: float, *, extra_h: float = 0.0, **subplots):
    """A canvas `size.width` wide and `nrows` x `panel_h` (+ `extra_h` for a legend) tall, laid
    out by matplotlib's constrained layout (labels and legends kept inside the canvas):
    -> figure, axes as an [nrows, ncols] array."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(size.width, nrows * panel_h + extra_h), squeeze=False,
                             layout="constrained", **subplots)
    fig.get_layout_engine().set(w_pad=2 / 72, h_pad=2 / 72, wspace=0.03, hspace=0.03)
    return fig, axes


def text_width_in(text: str, pt: float = MIN_FONT_PT) -> float:
    """About how wide `text` sets at `pt` points, in inches (for choosing legend columns)."""
    return len(text) * _CHAR_EM * pt / 72


def wrap(text: str, width_in: float, pt: float = MIN_FONT_PT) -> str:
    """`text` broken into lines that fit `width_in` inches at `pt` points."""
    return textwrap.fill(text, width=max(20, int(0.95 * width_in * 72 / (_CHAR_EM * pt))), break_long_words=False,
                         break_on_hyphens=False)


def legend_below(fig: Figure, handles: Sequence, labels: Sequence[str], size: Size) -> None:
    """The methods' legend under the panels, in as many columns as fit the canvas."""
    if not labels:
        return
    entry = max(text_width_in(lab) for lab in labels) + 0.55  # handle, gap and spacing
    ncol = max(1, min(len(labels), int(size.width * 0.97 // entry)))
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False)


def finish(fig: Figure, size: Size, *, annotate: bool, title: str, note: str = "") -> Figure:
    """Every tick label at the print size (ticks made after this point too), then on a draft
    (`annotate`) the title and the note above the panels, the canvas grown to hold them."""
    for ax in fig.axes:
        ax.tick_params(labelsize=MIN_FONT_PT, which="both")
    _fit_labels(fig)
    if annotate:
        _header(fig, size, title, note)
    return fig


def _header(fig: Figure, size: Size, title: str, note: str) -> None:
    """A draft's title and note above the panels, each broken into lines that fit the canvas
    (measured, not estimated), and the canvas grown by their height."""
    renderer = fig.canvas.get_renderer()
    texts = [fig.text(0.5, 1, title, ha="center", va="top", fontsize=TITLE_PT, fontweight="bold")]
    if note:
        texts.append(fig.text(0.5, 1, note, ha="center", va="top", fontsize=MIN_FONT_PT, color="0.3",
                              linespacing=1.15))
    room = 0.97 * size.width * fig.dpi
    heights = []
    for text in texts:
        s, width = text.get_text(), len(text.get_text())
        while text.get_window_extent(renderer).width > room and width > 20:
            width = min(width - 1, int(width * room / text.get_window_extent(renderer).width))
            text.set_text(textwrap.fill(s, width=width, break_long_words=False, break_on_hyphens=False))
        heights.append(text.get_window_extent(renderer).height / fig.dpi)
    gap = 0.05
    header = gap * (len(texts) + 1) + sum(heights)
    h = fig.get_figheight() + header
    fig.set_figheight(h)
    fig.get_layout_engine().set(rect=(0, 0, 1, 1 - header / h))
    top = gap
    for text, height in zip(texts, heights):
        text.set_y(1 - top / h)
        top += height + gap


def _fit_labels(fig: Figure) -> None:
    """Break every panel title and axis label that is longer than its panel onto more lines
    (the layout keeps labels inside the canvas, but not one wider than the panel it centres on)."""
    for _ in range(3):  # wrapping one label moves the panels, which can leave another too long
        if not _fit_labels_once(fig):
            return


def _fit_labels_once(fig: Figure) -> bool:
    """One pass of `_fit_labels` on the layout as drawn now; whether it changed a label."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    changed = False
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        box = ax.get_window_extent(renderer)
        for text, room, along in ((ax.title, box.width, 0), (ax.xaxis.label, box.width, 0),
                                  (ax.yaxis.label, box.height, 1)):
            current = text.get_text()
            s = current.replace("\n", " ")
            width = max((len(line) for line in current.split("\n")), default=0)
            while s and _length(text, renderer, along) > room * 1.02 and width > 8:
                width = min(width - 1, int(width * room / _length(text, renderer, along)) + 1)
                text.set_text(textwrap.fill(s, width=max(8, width), break_long_words=False, break_on_hyphens=False))
                changed = True
            if _length(text, renderer, along) > room * 1.02 and text.get_fontsize() > MIN_FONT_PT:
                text.set_fontsize(MIN_FONT_PT)  # one long word (a map name): smaller, never below the minimum
                changed = True
    return changed


def _length(text: Text, renderer, along: int) -> float:
    """How long `text` sets along its reading direction (0: across, 1: up, for a y label), in pixels."""
    extent = text.get_window_extent(renderer)
    return extent.height if along else extent.width


def empty_figure(size: Size, message: str, *, annotate: bool, title: str) -> Figure:
    """A canvas that says why the figure has nothing to show (always drawn, never skipped)."""
    with drawing():
        fig, axes = new_figure(size, 1, 1, 1.4 if size.column else 1.6)
    ax = axes[0, 0]
    ax.axis("off")
    ax.text(0.5, 0.5, wrap(message, size.width - 0.3, TITLE_PT), ha="center", va="center", fontsize=TITLE_PT,
            transform=ax.transAxes)
    return finish(fig, size, annotate=annotate, title=title)


# --------------------------------------------------------------------------- checks
def shown_texts(fig: Figure) -> list[Text]:
    """Every text a reader can see: visible, not empty, not in a hidden panel."""
    out = []
    for t in fig.findobj(Text):
        ax = t.axes
        if t.get_visible() and t.get_text().strip() and (ax is None or ax.get_visible()):
            out.append(t)
    return out


def print_problems(fig: Figure, min_pt: float = MIN_FONT_PT) -> list[str]:
    """What breaks the print rules on `fig` as drawn: texts smaller than `min_pt`, anything
    drawn outside the canvas (the saved file keeps the canvas, so it would be cut), and what a
    panel title could sit on (titles are not moved: `_RC`'s `axes.titley`)."""
    problems = [f"{t.get_text()[:40]!r} at {t.get_fontsize():g} pt" for t in shown_texts(fig)
                if t.get_fontsize() < min_pt - 1e-9]
    fig.canvas.draw()
    for ax in fig.axes:  # twins, insets and untitled panels too: a title above may be another's
        if not ax.get_visible():
            continue
        titles = [ax.get_title(loc) for loc in ("center", "left", "right")]
        name = next((t for t in titles if t), f"#{fig.axes.index(ax)}")
        if any(axis.offsetText.get_visible() and axis.offsetText.get_text() for axis in (ax.xaxis, ax.yaxis)):
            problems.append(f"panel {name[:40]!r}: an axis offset text (titles do not move out of its way)")
        if ax.xaxis.get_label_position() == "top" or any(t.label2.get_visible() for t in ax.xaxis.get_major_ticks()):
            problems.append(f"panel {name[:40]!r}: x labels at the top (titles do not move out of their way)")
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    w, h = fig.get_size_inches()
    tol = 1 / 72
    if box.x0 < -tol or box.y0 < -tol or box.x1 > w + tol or box.y1 > h + tol:
        problems.append(f"drawn outside the {w:g} x {h:g} in canvas: {np.round(box.extents, 2).tolist()}")
    return problems
