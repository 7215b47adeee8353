"""One colour, one line style and one marker per method, shared by every figure.

A figure is read in colour, in a greyscale print and by readers with a colour-vision
deficiency, so each method carries two cues: its colour, and its line style (lines) or marker
(points). The colours were chosen so that every pair stays apart under all three (measured
with `pps.analysis.render.vision`; a test holds them to the minimums below):

- CIEDE2000 >= `MIN_DELTA_E` between every two method colours, in normal vision and under
  simulated protanopia, deuteranopia and tritanopia (Machado et al. 2009, severity 1.0);
- lightness L* apart by >= `MIN_LIGHTNESS_GAP` between every two, so no two methods print as
  the same grey (L* runs 20, 31, 42, 52, 63, 74 from QMIX to PP-PPS).

The palette is fixed here, in the order of `pps.methods.METHODS`, so QMIX is the same dark
blue whichever methods a run of the suite holds; a method unknown to the table (a new scheme
not yet registered) takes a grey and the next line style and marker in name order, without the
guarantees above until it gets its own row. The order and names of methods and cells are
`pps.analysis.data.cells`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pps.methods import METHODS

MIN_DELTA_E = 13.0  # CIEDE2000, every vision (the palette measures 13.4)
MIN_LIGHTNESS_GAP = 10.0  # L*, greyscale (the palette measures 10.7)


@dataclass(frozen=True)
class MethodStyle:
    """How a method is drawn: `color` (#rrggbb), `linestyle` (a matplotlib dash pattern or
    name) for lines and `marker` for points and line markers."""

    color: str
    linestyle: str | tuple
    marker: str

    def line(self) -> dict:
        """Keyword arguments of `Axes.plot` for this method's line (with its marker)."""
        return {"color": self.color, "linestyle": self.linestyle, "marker": self.marker}


# in the order of pps.methods.METHODS: qmix, vdn, qmix-ns, a-pps, rs-pps, pp-pps
_STYLES: dict[str, MethodStyle] = {
    "qmix": MethodStyle("#192d64", "solid", "o"),  # navy, L* 20
    "vdn": MethodStyle("#8c469b", (0, (5, 2)), "v"),  # purple, L* 42
    "qmix-ns": MethodStyle("#009137", (0, (1, 1.5)), "X"),  # green, L* 52
    "a-pps": MethodStyle("#960519", (0, (6, 1.5, 1.5, 1.5)), "s"),  # crimson, L* 31
    "rs-pps": MethodStyle("#2da5cd", (0, (9, 2.5)), "^"),  # cerulean, L* 63
    "pp-pps": MethodStyle("#e1af00", (0, (4, 1.5, 1.5, 1.5, 1.5, 1.5)), "D"),  # golden orange, L* 74
}
# methods not in pps.methods.METHODS: greys and the remaining patterns, in name order
_EXTRA_COLORS = ("#555555", "#8c8c8c", "#b4b4b4")
_EXTRA_LINESTYLES = ((0, (2, 2)), (0, (8, 2, 2, 2)), (0, (1, 3)))
_EXTRA_MARKERS = ("P", "*", "h")


def method_style(method: str, all_methods: Iterable[str] = ()) -> MethodStyle:
    """The method's colour, line style and marker (see the module docstring)."""
    if method in _STYLES:
        return _STYLES[method]
    extra = sorted(set(all_methods) - set(METHODS) | {method})
    i = extra.index(method)
    return MethodStyle(_EXTRA_COLORS[i % len(_EXTRA_COLORS)], _EXTRA_LINESTYLES[i % len(_EXTRA_LINESTYLES)],
                       _EXTRA_MARKERS[i % len(_EXTRA_MARKERS)])


def registered_styles() -> dict[str, MethodStyle]:
    """Every registered method's style, in the method table's order (for the palette checks)."""
    return {m: _STYLES[m] for m in METHODS}
