"""One colour per method, shared by every figure.

Colours come from seaborn's colour-blind palette in the order of `pps.methods.METHODS`, so
QMIX is always the same blue whichever methods a run of the suite holds; methods unknown to
the table (a new scheme not yet registered) take the next colours in name order. The order
and names of methods and cells are `pps.analysis.data.cells`'s.
"""

from __future__ import annotations

from collections.abc import Iterable

from pps.methods import METHODS

_PALETTE = (  # seaborn "colorblind", fixed here so colours never depend on a seaborn version
    "#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc",
    "#ca9161", "#fbafe4", "#949494", "#ece133", "#56b4e9",
)


def method_color(method: str, all_methods: Iterable[str] = ()) -> str:
    known = list(METHODS)
    if method in known:
        return _PALETTE[known.index(method) % len(_PALETTE)]
    extra = sorted(set(all_methods) - set(known) | {method})
    return _PALETTE[(len(known) + extra.index(method)) % len(_PALETTE)]
