"""Panel-level pieces the figures share: titles and labels that fit their panel, grids of one
panel per map grouped by score family, score axes, forest rows and line markers.

Each fits its text to the panel it is drawn in (`layout.wrap`, `fit_cols`), since one figure is
drawn at two widths and a label that fits a 7 in canvas can run into its neighbour at 3.3 in.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib.ticker import FuncFormatter, MaxNLocator

from pps.analysis.data import scores
from pps.analysis.figures.layout import MIN_FONT_PT, TITLE_PT, Size, new_figure, text_width_in
from pps.analysis.render import tables as T
from pps.analysis.render.style import MethodStyle

# A zero-width CI (all values equal, or complete separation at n = 3) is drawn as an open
# marker with no bar, so it cannot be read as a very precise estimate.
DEGENERATE_NOTE = "Open marker: zero-width CI (every resample gave the same value at this n), not certainty."
POOL_TITLES = {"all": "all tasks", scores.WIN_RATE: "tasks with a win condition",
               scores.NORMALISED_RETURN: "tasks scored by normalised return", scores.MIXED: "all tasks"}
_LABEL_ROOM_IN = 0.55  # a panel's y tick labels and y label, in inches of the canvas


def steps_formatter():
    return FuncFormatter(lambda x, _: T.steps(x) if x else "0")


def n_text(counts) -> str:
    counts = [int(c) for c in counts if T.finite(c)]
    if not counts:
        return "n = 0 seeds"
    lo, hi = min(counts), max(counts)
    if lo == hi:
        return f"n = {lo} seed per method (no CI)" if lo == 1 else f"n = {lo} seeds per method"
    return f"n = {lo}–{hi} seeds per method"


def map_title(env, map_, keys) -> str:
    """The map's name, with its env only where another env of `keys` ((env, map) pairs) has a
    map of that name (SMAX and SMAC share their map names; MPE's are its own)."""
    return f"{env} / {map_}" if any(m == map_ and e != env for e, m in keys) else map_


def panel_width(size: Size, ncols: int, label_room: float = _LABEL_ROOM_IN) -> float:
    """About how wide each of `ncols` panels' plotting area is on a canvas of `size`."""
    return (size.width - 0.1) / ncols - label_room


def fit_cols(titles: Sequence[str], size: Size, most: int, pt: float = TITLE_PT) -> int:
    """The most panels per row (up to `most`) whose titles still fit over their panels."""
    widest = max((text_width_in(t, pt) for t in titles), default=0.0)
    for ncols in range(max(1, most), 1, -1):
        if widest <= panel_width(size, ncols) + 0.3:
            return ncols
    return 1


def fitted(text: str, width_in: float, pt: float = MIN_FONT_PT) -> str:
    """`text` on as many lines as it needs to fit `width_in` (axis labels of narrow panels)."""
    return text if text_width_in(text, pt) <= width_in else textwrap.fill(
        text, width=max(8, int(width_in * 72 / (0.56 * pt))), break_long_words=False, break_on_hyphens=False)


def xticks_fitting(ax, positions, labels: Sequence[str], room_in: float) -> None:
    """Tick labels at `positions`, slanted when the widest would not fit its `room_in` inches."""
    slant = max((text_width_in(s) for s in labels), default=0.0) > 0.95 * room_in
    ax.set_xticks(positions, labels, rotation=30 if slant else 0, ha="right" if slant else "center",
                  rotation_mode="anchor" if slant else "default")


def few_ticks(ax, axis: str = "x", n: int = 4) -> None:
    """At most about `n` labelled ticks, so numbers never run together on a narrow panel."""
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_locator(MaxNLocator(n))


def legend_rows_in(labels: Sequence[str], size: Size) -> float:
    """Inches a legend of `labels` under the panels needs (see `layout.legend_below`)."""
    if not labels:
        return 0.0
    entry = max(text_width_in(lab) for lab in labels) + 0.55
    ncol = max(1, min(len(labels), int(size.width * 0.97 // entry)))
    return 0.12 + math.ceil(len(labels) / ncol) * MIN_FONT_PT * 1.55 / 72


# --------------------------------------------------------------------------- task families
def families(maps, kinds: dict) -> list[tuple[str, list]]:
    """[(score kind, its (env, map) pairs)] in figure order: each family gets its own panels."""
    order = scores.ordered_kinds(kinds.get(t) for t in maps)
    return [(kind, [t for t in maps if kinds.get(t) == kind]) for kind in order]


def family_grid(fams: list[tuple[str, list]], size: Size, ncols: int, panel_h: float, extra_h: float = 0.0,
                **subplots):
    """One panel per task, each family starting a new row (its own y axis and label):
    -> figure, {(env, map): axes}, [(kind, axes of its first column)]."""
    ncols = max(1, min(ncols, max(len(ts) for _, ts in fams)))
    rows_per = [int(np.ceil(len(ts) / ncols)) for _, ts in fams]
    fig, axes = new_figure(size, sum(rows_per), ncols, panel_h, extra_h=extra_h, **subplots)
    where, first_col, row0 = {}, [], 0
    for (kind, tasks), n_rows in zip(fams, rows_per):
        for i, task in enumerate(tasks):
            where[task] = axes[row0 + i // ncols, i % ncols]
        for r in range(n_rows):
            first_col.append((kind, axes[row0 + r, 0]))
        for j in range(len(tasks), n_rows * ncols):
            axes[row0 + j // ncols, j % ncols].set_visible(False)
        row0 += n_rows
    return fig, where, first_col


def score_axis(axes, kind: str, axis: str = "y", values=(), pad: float = 0.03) -> None:
    """Limits of a family's score axis, the same on all its panels: [0, 1] for a win rate; for
    a normalised return the span of the data and of [0, 1], with dotted lines at 0 (random
    policy) and 1 (reference policy), since it can fall below 0 or exceed 1."""
    if kind == scores.WIN_RATE:
        lo, hi = -pad, 1 + pad
    else:
        v = np.asarray([x for x in values if T.finite(x)], float)
        lo, hi = min(0.0, v.min()) if v.size else 0.0, max(1.0, v.max()) if v.size else 1.0
        span = hi - lo
        lo, hi = lo - pad * span, hi + pad * span
    for ax in axes:
        (ax.set_ylim if axis == "y" else ax.set_xlim)(lo, hi)
        if kind != scores.WIN_RATE:
            for ref in (0.0, 1.0):
                (ax.axhline if axis == "y" else ax.axvline)(ref, color="0.55", ls=":", lw=0.9, zorder=0)


def title_word(kinds) -> str:
    """'test win rate', 'normalised score' or 'score' for a figure title."""
    present = scores.ordered_kinds(kinds)
    return scores.label(present[0]) if len(present) == 1 else "score"


def score_note(kinds) -> str:
    present = set(kinds)
    return "" if present <= {scores.WIN_RATE} else " " + scores.describe(present)


def pool_kind(kind: str) -> str:
    """The score kind whose axis a pool of across_maps.csv gets (a mixed pool: a normalised return's)."""
    return kind if kind in scores.KINDS else scores.NORMALISED_RETURN


# --------------------------------------------------------------------------- marks
def is_degenerate(lo, hi) -> bool:
    return bool(T.degenerate_mark(lo, hi))


def forest(ax, labels, points, lows, highs, styles: Sequence[MethodStyle], ref=None) -> bool:
    """Point (the method's marker) and CI bar per row; a zero-width CI gets an open marker.
    Returns whether any did."""
    y = np.arange(len(labels))[::-1]
    degenerate = False
    for yi, p, lo, hi, st in zip(y, points, lows, highs, styles):
        if not T.finite(p):
            continue
        if is_degenerate(lo, hi):
            degenerate = True
            ax.plot([p], [yi], st.marker, color=st.color, mfc="white", mew=1.3, ms=6)
            continue
        if T.finite(lo) and T.finite(hi):
            ax.plot([lo, hi], [yi, yi], color=st.color, lw=2.5, alpha=0.55, solid_capstyle="butt")
        ax.plot([p], [yi], st.marker, color=st.color, ms=5)
    ax.set_yticks(y, labels)
    ax.grid(axis="y", visible=False)
    if ref is not None:
        ax.axvline(ref, color="0.4", ls=":", lw=1)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    return degenerate


def mark_every(n_points: int, index: int, marks: int = 5):
    """Markers on about `marks` points of a line of `n_points`, shifted per line (`index`) so
    the markers of lines that run together do not sit on one another."""
    every = max(1, n_points // marks)
    return (index % every, every)
