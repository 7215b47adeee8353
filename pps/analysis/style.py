"""One colour, one label and one sort order per method, shared by every table and figure.

Colours come from seaborn's colour-blind palette in the order of `pps.methods.METHODS`, so
QMIX is always the same blue whichever methods a run of the suite holds; methods unknown to
the table (a new scheme not yet registered) take the next colours in name order.
"""

from __future__ import annotations

import math

from pps.methods import METHODS

_PALETTE = (  # seaborn "colorblind", fixed here so colours never depend on a seaborn version
    "#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc",
    "#ca9161", "#fbafe4", "#949494", "#ece133", "#56b4e9",
)


def method_order(methods) -> list[str]:
    """`methods` sorted as in METHODS, unknown names after them alphabetically."""
    known = list(METHODS)
    present = set(methods)
    return [m for m in known if m in present] + sorted(present - set(known))


def method_rank(method: str) -> int:
    known = list(METHODS)
    return known.index(method) if method in known else len(known)


def method_color(method: str, all_methods=()) -> str:
    known = list(METHODS)
    if method in known:
        return _PALETTE[known.index(method) % len(_PALETTE)]
    extra = sorted(set(all_methods) - set(known) | {method})
    return _PALETTE[(len(known) + extra.index(method)) % len(_PALETTE)]


def method_label(method: str) -> str:
    return METHODS[method].label if method in METHODS else method


def is_aggregating(method: str) -> bool:
    return method in METHODS and METHODS[method].aggregates


def has_interval(interval) -> bool:
    return interval is not None and not (isinstance(interval, float) and math.isnan(interval)) and str(interval) != "<NA>"


def cell_label(method: str, interval) -> str:
    """'A-PPS (K=300)' for an aggregating method, 'QMIX' otherwise."""
    label = method_label(method)
    return f"{label} (K={int(interval)})" if has_interval(interval) else label
