"""Exact rank tests that stay exact when values tie (win rates tie a lot: 0, 1, k/32).

Why not `scipy.stats.mannwhitneyu`: its default `method="auto"` switches to the normal
approximation as soon as two values tie, so [1, 1, 1] vs [0, 0, 0] gets p = 0.047 where the
exact permutation p is 0.1 (the smallest any 3-vs-3 comparison can reach), and SciPy's
`method="exact"` ignores ties in older releases that `pyproject.toml` still allows.

Here the null distribution of U is the *permutation* distribution given the pooled values,
ties included (U counts a tie as 1/2, i.e. U is computed from mid-ranks). It is counted
exactly by dynamic programming over subsets (no sampling, so no seed and no Monte Carlo
error): the number of ways to pick the n_x labels "X" among the pooled runs whose doubled
mid-ranks sum to each possible value. `tests/analysis/test_layers.py` checks it against
`scipy.stats.permutation_test` on small samples, where SciPy enumerates every permutation.

It is the per-map test of `stats.csv`. The claim verdicts use the studentized tests of
`pps.analysis.stats.permtests` instead: a rank test is exact only where two methods' runs are
interchangeable, and it answers "which tends to be larger", not "by how much on average".
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps


def _doubled_midranks(pooled: np.ndarray) -> np.ndarray:
    """2 x the mid-ranks (1-based) of `pooled`: integers, so ties cost no precision."""
    return np.rint(2 * sps.rankdata(pooled, method="average")).astype(np.int64)


def u_null_distribution(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Exact permutation distribution of U_x = #(x > y) + #(x = y)/2 given the pooled values.

    Returns (twice_u, probability): every attainable value of 2 U (integers) and its
    probability when the n_x "X" labels are assigned uniformly at random among the pooled runs.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    nx = x.size
    a = _doubled_midranks(np.concatenate([x, y]))
    top = int(np.sort(a)[::-1][:nx].sum())
    # counts[k, s]: number of k-subsets of the items seen so far whose doubled ranks sum to s
    counts = np.zeros((nx + 1, top + 1))
    counts[0, 0] = 1.0
    for ai in a:
        if ai <= top:
            counts[1:, ai:] += counts[:-1, : top + 1 - ai].copy()
    dist = counts[nx]
    sums = np.flatnonzero(dist)
    prob = dist[sums] / dist.sum()
    # U = R_x - n_x (n_x + 1) / 2 with R_x the rank sum, so 2U = sum(2 r) - n_x (n_x + 1)
    return sums - nx * (nx + 1), prob


def mann_whitney_exact(x, y, alternative: str = "two-sided") -> float:
    """Exact (tie-aware) Mann-Whitney p-value; NaN when a sample is empty or all values tie.

    `alternative`: "greater" tests X stochastically larger than Y, "less" smaller, and
    "two-sided" is 2 x the smaller one-sided p (capped at 1), SciPy's convention.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size == 0 or y.size == 0 or np.ptp(np.concatenate([x, y])) == 0:
        return np.nan
    twice_u, prob = u_null_distribution(x, y)
    observed = int(np.rint(2 * _u_statistic(x, y)))
    greater = float(prob[twice_u >= observed].sum())
    less = float(prob[twice_u <= observed].sum())
    if alternative == "greater":
        return min(1.0, greater)
    if alternative == "less":
        return min(1.0, less)
    if alternative == "two-sided":
        return min(1.0, 2 * min(greater, less))
    raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', not {alternative!r}")


def _u_statistic(x: np.ndarray, y: np.ndarray) -> float:
    return float(((x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])).sum())
