"""The (method, interval K) cell: the one place that selects, orders, names and picks cells.

A *cell* is one method at one aggregation interval K; `interval` is empty for the methods
that never aggregate. Tables, claims and figures all filter rows of one cell, sort cells and
name them; they do it through these functions, so that "QMIX" and "A-PPS (K=300)" mean the
same rows, in the same order, in every output.

Order and names follow `pps.methods.METHODS`: methods it does not know (a scheme not yet
registered) come after the known ones in name order, under their own name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from pps.analysis.data.scores import SCORE
from pps.methods import METHODS

Key = tuple[str, str]  # (env, map)
Cell = tuple[str, "int | None"]  # (method, interval K or None)
CELL_COLUMNS = ["env", "map", "method", "interval"]  # a table's columns that name a cell on a map


# --------------------------------------------------------------------------- methods
def method_order(methods: Iterable[str]) -> list[str]:
    """`methods` sorted as in METHODS, unknown names after them alphabetically."""
    known = list(METHODS)
    present = set(methods)
    return [m for m in known if m in present] + sorted(present - set(known))


def method_rank(method: str) -> int:
    known = list(METHODS)
    return known.index(method) if method in known else len(known)


def method_label(method: str) -> str:
    return METHODS[method].label if method in METHODS else method


def is_aggregating(method: str) -> bool:
    return method in METHODS and METHODS[method].aggregates


# --------------------------------------------------------------------------- cells
def has_interval(interval: Any) -> bool:
    """Whether a table's interval value is a K (not None, NaN or pandas' <NA>)."""
    if interval is None or (isinstance(interval, float) and math.isnan(interval)):
        return False
    return str(interval) != "<NA>"


def cell_label(method: str, interval: Any) -> str:
    """'A-PPS (K=300)' for an aggregating method, 'QMIX' otherwise."""
    label = method_label(method)
    return f"{label} (K={int(interval)})" if has_interval(interval) else label


def cell_mask(df: pd.DataFrame, method: str, interval: Any) -> pd.Series:
    """The rows of `df` that belong to the cell (method, interval); an empty interval matches
    the rows whose interval is empty."""
    rows = df["method"] == method
    return rows & (df["interval"].isna() if not has_interval(interval) else df["interval"] == interval)


def select(df: pd.DataFrame, method: str, interval: Any) -> pd.DataFrame:
    """The rows of one cell."""
    return df[cell_mask(df, method, interval)]


def by_interval(df: pd.DataFrame, method: str) -> pd.DataFrame:
    """The rows of an aggregating method at every interval K, in increasing K (the cells an
    interval-sensitivity view draws as one line)."""
    return df[(df["method"] == method) & df["interval"].notna()].sort_values("interval")


def cells(df: pd.DataFrame) -> list[Cell]:
    """The distinct (method, interval) cells of `df` in table order (method, then K)."""
    pairs = {(m, int(i) if has_interval(i) else None) for m, i in zip(df["method"], df["interval"])}
    return sorted(pairs, key=lambda p: (method_rank(p[0]), p[0], -1 if p[1] is None else p[1]))


def per_map(final: pd.DataFrame, method: str, interval: Any, score: str = SCORE) -> dict[Key, np.ndarray]:
    """(env, map) -> the cell's finite final scores on that map."""
    out = {}
    for key, g in select(final, method, interval).groupby(["env", "map"], sort=True):
        v = g[score].to_numpy(float)
        v = v[np.isfinite(v)]
        if v.size:
            out[key] = v
    return out


# --------------------------------------------------------------------------- the judged cell per method
def pick_interval(available: Iterable[Any], preferred: int) -> int | None:
    """`preferred` if available, else the nearest on a log scale (ties: the smaller)."""
    avail = sorted(int(i) for i in available if has_interval(i))
    if not avail:
        return None
    if preferred in avail:
        return preferred
    return min(avail, key=lambda k: (abs(math.log(k) - math.log(preferred)), k))


def chosen_cells(final: pd.DataFrame, claims_interval: int) -> dict[str, int | None]:
    """method -> the one interval it is shown and judged at (None for methods without
    aggregation): the claims interval where it ran, else the nearest K."""
    out = {}
    for method in method_order(set(final["method"])):
        ivs = final.loc[final["method"] == method, "interval"].dropna().unique()
        out[method] = pick_interval(ivs, claims_interval) if len(ivs) else None
    return out


def chosen_mask(df: pd.DataFrame, chosen: dict[str, int | None]) -> pd.Series:
    """The rows of `df` in one of the `chosen` cells."""
    keep = pd.Series(False, index=df.index)
    for method, interval in chosen.items():
        keep |= cell_mask(df, method, interval)
    return keep
