"""Point estimates of final scores and the tests of one method against the baseline on one map.

Everything here works on `final.csv`'s `final_score` (`pps.analysis.data.scores`): the test
win rate on tasks with a win condition, the normalised test return on the others.

Conventions (docs/design.md §6):

- **IQM** = `scipy.stats.trim_mean(x, 0.25)`: the mean of the middle 50% of runs. It trims
  floor(n/4) runs from each end, so with n <= 3 it *is* the mean and with n = 4 the median
  (`iqm_small_n_note` says so wherever a table shows such an IQM).
- **Versus the baseline** (same env and map): difference of means, Welch's t-test and the
  two-sided Mann-Whitney U test (exact permutation p-value that stays exact when win rates
  tie, `pps.analysis.stats.ranktests`), each Benjamini-Hochberg-adjusted across the whole
  family of comparisons in the table (`scipy.stats.false_discovery_control`); **effect size**
  = Hedges' g (Cohen's d with the pooled SD and the small-sample correction
  J = 1 - 3 / (4 (n_x + n_y) - 9)); **probability of improvement** = U / (n_x n_y)
  = P(X > Y) + P(X = Y) / 2.

Confidence intervals are in `pps.analysis.stats.bootstrap`; the tables in `.tables`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats as sps

from pps.analysis.stats.ranktests import mann_whitney_exact


def iqm(x, axis: int = -1):
    """Interquartile mean: `scipy.stats.trim_mean(x, 0.25)`."""
    return sps.trim_mean(x, 0.25, axis=axis)


def iqm_small_n_note(ns) -> str:
    """The sentence a table needs when some IQM is really a mean (n <= 3) or a median (n = 4):
    trim_mean(x, 0.25) cuts floor(n/4) runs from each end, so it trims nothing below 4 runs."""
    ns = {int(n) for n in ns if n is not None and np.isfinite(n) and n > 0}
    parts = []
    if any(n <= 3 for n in ns):
        parts.append("with 3 seeds or fewer the IQM is the mean")
    if 4 in ns:
        parts.append("with 4 seeds it is the median (the middle two runs)")
    return ("Note: " + " and ".join(parts) + ", since the IQM trims a quarter of the runs from each end, "
            "rounded down.") if parts else ""


def mean(x, axis: int = -1):
    return np.mean(x, axis=axis)


def median(x, axis: int = -1):
    return np.median(x, axis=axis)


STATISTICS: dict[str, Callable] = {"mean": mean, "median": median, "iqm": iqm}

# --------------------------------------------------------------------------- across maps
# The across-map estimates of Agarwal et al. (2021), as rliable's `metrics.py` defines them, on the
# scores of one method's runs pooled over maps (0 = a random policy, 1 = every episode won or
# the reference policy's return). `iqm` above is their IQM over all runs of all maps.
OPTIMALITY_TARGET = 1.0  # gamma: the score at which a run counts as optimal


def optimality_gap(x, axis: int = -1, gamma: float = OPTIMALITY_TARGET):
    """gamma - mean(min(x, gamma)) = the mean of max(gamma - x, 0): how far runs fall short of
    the target on average, with no credit for exceeding it (a normalised return above the
    reference policy's does not make up for another run's shortfall). Lower is better."""
    return gamma - np.mean(np.minimum(np.asarray(x, float), gamma), axis=axis)


def median_of_means(x, sizes, axis: int = -1):
    """The median over maps of each map's mean score: `x` holds the runs of every map stacked
    along `axis` in order, `sizes` how many runs each map has (rliable's `aggregate_median`)."""
    x = np.moveaxis(np.asarray(x, float), axis, -1)
    bounds = np.cumsum([0, *sizes])
    means = np.stack([x[..., a:b].mean(axis=-1) for a, b in zip(bounds[:-1], bounds[1:])], axis=-1)
    return np.median(means, axis=-1)


def probability_of_improvement(x, y) -> float:
    """P(X > Y) + P(X = Y)/2 over all pairs = Mann-Whitney U_x / (n_x n_y)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size == 0 or y.size == 0:
        return np.nan
    return float(sps.mannwhitneyu(x, y, alternative="two-sided").statistic / (x.size * y.size))


def probability_of_improvement_batch(x, y, axis: int = -1):
    """Probability of improvement along `axis` for batched samples (bootstrap statistic)."""
    x = np.moveaxis(np.asarray(x, float), axis, -1)[..., :, None]
    y = np.moveaxis(np.asarray(y, float), axis, -1)[..., None, :]
    return ((x > y) + 0.5 * (x == y)).mean(axis=(-2, -1))


def hedges_g(x, y) -> float:
    """Standardised mean difference with the small-sample correction; NaN when undefined."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    nx, ny = x.size, y.size
    if nx < 2 or ny < 2:
        return np.nan
    pooled = np.sqrt(((nx - 1) * x.var(ddof=1) + (ny - 1) * y.var(ddof=1)) / (nx + ny - 2))
    if pooled == 0:
        return np.nan
    return float((1 - 3 / (4 * (nx + ny) - 9)) * (x.mean() - y.mean()) / pooled)


def welch_p(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or y.size < 2 or (np.ptp(x) == 0 and np.ptp(y) == 0):
        return np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(sps.ttest_ind(x, y, equal_var=False).pvalue)


def mannwhitney_p(x, y, alternative: str = "two-sided") -> float:
    """Exact permutation p of the Mann-Whitney U test, ties included (see `ranktests`)."""
    return mann_whitney_exact(x, y, alternative)


def fdr_bh(p: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaNs stay NaN and are not counted in the family."""
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = sps.false_discovery_control(p[ok], method="bh")
    return out
