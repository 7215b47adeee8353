"""Bootstrap confidence intervals (docs/design.md §6), each from its own seeded generator.

- **CIs** are 95% *percentile* bootstrap intervals (`scipy.stats.bootstrap`, `N_RESAMPLES`
  resamples: enough that the Monte Carlo error of a bound is a small fraction of a win-rate
  point, see `pps calibrate`). `N_RESAMPLES` is the one resample count of the suite: every
  table, every band and interval on a figure and every caption uses it (`RESAMPLES_TEXT`).
  Percentile rather than BCa because BCa's jackknife acceleration is undefined or unstable
  at 3-5 seeds. Each CI draws from its own generator seeded by `(bootstrap_seed, cell key)`
  (`rng_for`), so a table is byte-identical every time it is made and a cell's CI does not
  change when other methods or maps are added. With fewer than 2 values the CI is NaN; with
  all values equal it is the point value; both cases say so in the `note` column, and so
  does any interval of zero width (at n = 3, "P(> QMIX) = 0.00 [0.00, 0.00]" means every
  resample separated the samples, not certainty). At 3-5 seeds a percentile bootstrap
  under-covers: read the CIs as optimistic. The paper's claims are judged with calibrated
  tests (`pps.analysis.claims`).
- **Across maps** the resampling is **stratified**: runs are resampled within each map
  (`stratified_resample`), as in Agarwal et al. 2021 ("Deep RL at the edge of the
  statistical precipice").
- **Relative improvement** = IQM / baseline IQM - 1, defined where the baseline beats the
  random policy (IQM > 0). In a resample where it does not: +inf if the method's IQM is above
  0, 0 if both are equal (win rates: both 0), and undefined otherwise (both at or below
  random, which only normalised returns can be); `relative_ci` counts undefined resamples at
  the least favourable end of each bound, so no resample is dropped and none makes an
  interval narrower than the data allow.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats as sps

N_RESAMPLES = 20_000
BATCH = 2_000  # resamples per vectorised call: the pairwise P(X > Y) statistic holds B x n_x x n_y values
CONFIDENCE = 0.95
RESAMPLES_TEXT = f"{N_RESAMPLES:,} resamples"
CI_METHOD = f"95% percentile bootstrap CI ({RESAMPLES_TEXT})"
STRATIFIED_CI_METHOD = f"95% stratified percentile bootstrap CI ({RESAMPLES_TEXT})"


def rng_for(seed: int, *key) -> np.random.Generator:
    """A generator that depends only on the bootstrap seed and the cell's key (stable tables)."""
    return np.random.default_rng([int(seed), zlib.crc32(repr(tuple(str(k) for k in key)).encode())])


def bootstrap_ci(x, statistic: Callable, rng: np.random.Generator,
                 n_resamples: int = N_RESAMPLES) -> tuple[float, float, str]:
    """Percentile CI of `statistic(x, axis=-1)`; (lo, hi, note), never raising on tiny samples."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return np.nan, np.nan, f"n={x.size}: no CI"
    if np.ptp(x) == 0:
        v = float(statistic(x))
        return v, v, "all values equal: CI is the point value"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sps.bootstrap((x,), statistic, n_resamples=n_resamples, confidence_level=CONFIDENCE,
                            method="percentile", vectorized=True, axis=-1, random_state=rng, batch=BATCH)
    return float(res.confidence_interval.low), float(res.confidence_interval.high), ""


def bootstrap_ci2(x, y, statistic: Callable, rng: np.random.Generator) -> tuple[float, float, str]:
    """Percentile CI of `statistic(x, y, axis=-1)`, x and y resampled independently."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size < 2 or y.size < 2:
        return np.nan, np.nan, f"n={x.size} vs {y.size}: no CI"
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        v = float(statistic(x, y))
        return v, v, "all values equal: CI is the point value"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sps.bootstrap((x, y), statistic, n_resamples=N_RESAMPLES, confidence_level=CONFIDENCE,
                            method="percentile", vectorized=True, axis=-1, random_state=rng, batch=BATCH)
    return float(res.confidence_interval.low), float(res.confidence_interval.high), ""


def mean_diff(x, y, axis: int = -1):
    """mean(x) - mean(y) along `axis` (the bootstrap statistic of `diff`)."""
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def percentile_ci(dist: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile interval of a bootstrap distribution. Infinite values are kept (a resample
    whose ratio is unbounded counts, it is not dropped); NaN is an error: the caller must say
    what an undefined resample means (see `convergence.ratio_ci`)."""
    dist = np.asarray(dist, float).ravel()
    if dist.size == 0:
        return np.nan, np.nan
    if np.isnan(dist).any():
        raise ValueError("percentile_ci: NaN in the bootstrap distribution; resolve undefined resamples first")
    a = (1 - confidence) / 2
    # linear interpolation as scipy.stats.bootstrap, except with infinities (inf - inf is NaN)
    method = "linear" if np.isfinite(dist).all() else "inverted_cdf"
    lo, hi = np.quantile(dist, [a, 1 - a], method=method)
    return float(lo), float(hi)


def zero_width(lo, hi) -> bool:
    """A finite interval of zero width: a degenerate bootstrap, not certainty."""
    return bool(np.isfinite(lo) and np.isfinite(hi) and lo == hi)


def relative_resamples(dm: np.ndarray, db: np.ndarray) -> np.ndarray:
    """dm / db - 1 per resample; where db <= 0 (the baseline no better than random): +inf if
    dm > 0, 0 if dm == db, NaN (undefined) otherwise. Win rates are never negative, so for
    them db <= 0 means db = 0 and the result is never NaN."""
    dm, db = np.asarray(dm, float), np.asarray(db, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(db > 0, dm / db - 1, np.where(dm > 0, np.inf, np.where(dm == db, 0.0, np.nan)))


def relative_ci(dm: np.ndarray, db: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile CI of the relative improvement over resamples of the two IQMs, undefined
    resamples taken at the least favourable end of each bound (-inf for the lower, +inf for
    the upper): the interval is then conservative, never narrower than the data allow."""
    rel = relative_resamples(dm, db)
    lo, _ = percentile_ci(np.where(np.isnan(rel), -np.inf, rel), confidence)
    _, hi = percentile_ci(np.where(np.isnan(rel), np.inf, rel), confidence)
    return lo, hi


def stratified_resample(strata: Sequence[np.ndarray], rng: np.random.Generator, n: int = N_RESAMPLES) -> np.ndarray:
    """[n, sum(n_k)] resamples: each stratum (map) resampled with replacement on its own."""
    parts = [s[rng.integers(0, s.size, size=(n, s.size))] for s in strata]
    return np.concatenate(parts, axis=1)


def stratified_indices(sizes: Sequence[int], rng: np.random.Generator, n: int = N_RESAMPLES) -> np.ndarray:
    """[n, sum(sizes)] row indices into the strata stacked in order: the draws of
    `stratified_resample` on strata of these sizes, as indices, for resampling whole rows
    (a run's learning curve) rather than single values."""
    offsets = np.cumsum([0, *sizes[:-1]])
    parts = [o + rng.integers(0, k, size=(n, k)) for o, k in zip(offsets, sizes)]
    return np.concatenate(parts, axis=1) if parts else np.empty((n, 0), dtype=np.int64)


def percentile_band(boot: np.ndarray, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the percentile interval of the resamples in the rows of `boot` [R, k] (a
    band along a curve: one `percentile_ci` per point, with the same interpolation)."""
    a = (1 - confidence) / 2
    lo, hi = np.quantile(np.asarray(boot, float), [a, 1 - a], axis=0)
    return lo, hi
