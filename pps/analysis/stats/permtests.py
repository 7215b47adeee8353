"""Studentized permutation tests across maps, the tests behind the claim verdicts.

Why studentized: a plain permutation test is exact only where the two methods' runs are
interchangeable on each map. A reviewer's nulls are wider: the same mean with a different
spread, a method that learns or fails against one that always half-learns, uneven seed
counts. Dividing the statistic by its own standard error makes its permutation distribution
approximate its sampling distribution under those nulls as well (Janssen 1997; Chung and
Romano 2013, "Exact and asymptotically robust permutation tests"), and the test stays exact
where the runs are interchangeable. `pps calibrate` measures the level on
each of those nulls at the seed counts where a verdict is given.

Labels are permuted within each map (maps of different difficulty never mix). Where a grid
has at most `max_enumerate` relabellings all of them are enumerated (p = share at least as
extreme, the observed one included); otherwise `resamples` are drawn from a seeded generator
and p = (b + 1) / (m + 1), with b of the m draws at least as extreme, which is a valid
p-value whatever m is. So the tests never refuse a grid, whatever the seed counts.

The standard error is Welch's (delta method, each method's own variance), guarded: each
method's variance is taken as at least the variance of the map's runs pooled under the null
(the variance a score test would use). At 5-10 seeds a skewed sample can bunch up by chance
(every seed of a learn-or-fail method learned, every seed of a wide baseline failed), and its
own variance then makes the standard error, and the test, far too confident; the guard makes
the error at least what the null itself implies. Measured by `pps calibrate`:
with it the tests hold their level at fewer seeds, and on the effect grids measured it cost
no power.

A margin delta (claim 1 tests "at least +10%", not "more than 0") is tested through the sharp
null it implies: for a relative gain, the first method's runs are distributed as (1 + delta)
times the second's, so the second's runs are scaled by 1 + delta before relabelling and
scaled back after; for a difference of means they are shifted by delta.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

_TINY_SE = 1e-12  # a zero standard error (every run tied) would divide by zero
_TIE = 1e-9  # relative tolerance when comparing statistics computed along different float paths


@dataclass(frozen=True)
class PermutationConfig:
    """How p-values are computed: every relabelling where there are at most `max_enumerate`,
    else `resamples` seeded Monte Carlo relabellings (p = (b + 1) / (m + 1)); `guarded`: the
    standard error's variances are at least the pooled variance (module docstring)."""

    resamples: int = 9_999
    max_enumerate: int = 10_000
    guarded: bool = True


class Effect(Protocol):
    """A per-map effect of X over Y with its delta-method variance, and the sharp null that
    puts the effect exactly at a margin."""

    def to_null(self, y: np.ndarray, delta: float) -> np.ndarray: ...

    def from_null(self, mean: np.ndarray, var: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]: ...

    def per_map(self, mx, vx, nx, my, vy, ny) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class RelativeGain:
    """(mean X - mean Y) / max(mean Y, floor) on each map.

    The floor keeps a map where Y scores about 0 from dividing by noise: there a gain is
    measured in units of the floor (claim 1 calls that map's gain small, claim 2 is about it).
    """

    floor: float

    def to_null(self, y, delta):
        return (1 + delta) * np.asarray(y, float)

    def from_null(self, mean, var, delta):
        return mean / (1 + delta), var / (1 + delta) ** 2

    def per_map(self, mx, vx, nx, my, vy, ny):
        above = my >= self.floor
        d = np.where(above, my, self.floor)
        est = (mx - my) / d
        gy = np.where(above, -mx / d**2, -1 / d)  # d/d(my) of est, by branch
        return est, vx / (nx * d**2) + gy**2 * vy / ny


@dataclass(frozen=True)
class MeanDifference:
    """mean X - mean Y on each map (Welch's standard error)."""

    def to_null(self, y, delta):
        return np.asarray(y, float) + delta

    def from_null(self, mean, var, delta):
        return mean - delta, var

    def per_map(self, mx, vx, nx, my, vy, ny):
        return mx - my, vx / nx + vy / ny


@dataclass(frozen=True)
class Relabellings:
    """Per map, a (K, n_x + n_y) array: 1.0 where a run is labelled X, else 0.0 (float, for
    the matrix products of `_moments`); `guarded` travels with them from the config."""

    masks: tuple[np.ndarray, ...]
    exact: bool
    guarded: bool = True

    @property
    def count(self) -> int:
        return int(self.masks[0].shape[0]) if self.masks else 0


def count_relabellings(sizes: Sequence[tuple[int, int]]) -> int:
    """Distinct within-map relabellings of maps with these (n_x, n_y)."""
    return math.prod(math.comb(nx + ny, nx) for nx, ny in sizes)


def relabellings(sizes: Sequence[tuple[int, int]], rng: np.random.Generator,
                 config: PermutationConfig = PermutationConfig()) -> Relabellings:
    """Every within-map relabelling of runs of sizes (n_x, n_y), or `config.resamples` random ones."""
    total = count_relabellings(sizes)
    if total <= config.max_enumerate:
        per_map = []
        for nx, ny in sizes:
            combos = np.zeros((math.comb(nx + ny, nx), nx + ny), bool)
            for row, idx in enumerate(itertools.combinations(range(nx + ny), nx)):
                combos[row, list(idx)] = True
            per_map.append(combos)
        index = np.unravel_index(np.arange(total), [c.shape[0] for c in per_map])
        return Relabellings(tuple(c[i].astype(float) for c, i in zip(per_map, index)), True, config.guarded)
    masks = []
    for nx, ny in sizes:
        # the n_x smallest of iid uniforms sit at a uniformly random subset of positions
        u = rng.random((config.resamples, nx + ny))
        masks.append(u <= np.partition(u, nx - 1, axis=1)[:, nx - 1:nx])
    return Relabellings(tuple(m.astype(float) for m in masks), False, config.guarded)


@dataclass(frozen=True)
class TestResult:
    """A studentized test of "effect = delta": the estimate (mean over maps of the per-map
    effect), its standard error, and one-sided p-values for "effect > delta" (`p_greater`)
    and "effect < delta" (`p_less`)."""

    estimate: float
    se: float
    p_greater: float
    p_less: float
    exact: bool
    relabellings: int


def _moments(z: np.ndarray, masks: np.ndarray, guarded: bool):
    """Means and sample variances of the X- and Y-labelled runs under each relabelling;
    `guarded`: each variance at least the variance of the map's pooled runs (see module doc)."""
    nx = int(round(masks[0].sum()))
    ny = z.size - nx
    sx, sxx = masks @ z, masks @ (z * z)
    sy, syy = z.sum() - sx, (z * z).sum() - sxx
    mx, my = sx / nx, sy / ny
    vx = np.maximum(sxx - nx * mx * mx, 0) / (nx - 1)
    vy = np.maximum(syy - ny * my * my, 0) / (ny - 1)
    if guarded:
        pooled = z.var(ddof=1)
        vx, vy = np.maximum(vx, pooled), np.maximum(vy, pooled)
    return mx, vx, nx, my, vy, ny


def _studentized(pooled: Sequence[np.ndarray], masks: Sequence[np.ndarray], effect: Effect, delta: float,
                 guarded: bool):
    """(T, estimate, se) per relabelling, T = (estimate - delta) / se."""
    ests, vars_ = [], []
    for z, mask in zip(pooled, masks):
        mx, vx, nx, my, vy, ny = _moments(z, mask, guarded)
        my, vy = effect.from_null(my, vy, delta)
        e, v = effect.per_map(mx, vx, nx, my, vy, ny)
        ests.append(e)
        vars_.append(v)
    k = len(pooled)
    est = np.sum(ests, axis=0) / k
    se = np.sqrt(np.sum(vars_, axis=0)) / k
    return (est - delta) / np.maximum(se, _TINY_SE), est, se


def _clean(samples: Sequence) -> list[np.ndarray]:
    """Each sample as a float array without NaN or infinite scores."""
    out = []
    for s in samples:
        s = np.asarray(s, float)
        out.append(s[np.isfinite(s)])
    return out


def studentized_test(xs: Sequence, ys: Sequence, effect: Effect, delta: float, relab: Relabellings) -> TestResult:
    """Test the mean over maps of `effect` against `delta`; `relab` from `relabellings` with the
    maps' (n_x, n_y). Every map needs at least 2 runs per side (a standard error needs them)."""
    xs, ys = _clean(xs), _clean(ys)
    if any(x.size < 2 or y.size < 2 for x, y in zip(xs, ys)) or not xs:
        raise ValueError("studentized_test: every map needs at least 2 runs of each method")
    pooled = [np.concatenate([x, effect.to_null(y, delta)]) for x, y in zip(xs, ys)]
    identity = [np.concatenate([np.ones(x.size), np.zeros(y.size)])[None, :] for x, y in zip(xs, ys)]
    t_obs, est, se = _studentized(pooled, identity, effect, delta, relab.guarded)
    t_obs, est, se = float(t_obs[0]), float(est[0]), float(se[0])
    t, _, _ = _studentized(pooled, relab.masks, effect, delta, relab.guarded)
    tol = _TIE * max(1.0, abs(t_obs))
    above, below = int(np.sum(t >= t_obs - tol)), int(np.sum(t <= t_obs + tol))
    if relab.exact:
        k = relab.count
        return TestResult(est, se, above / k, below / k, True, k)
    m = relab.count
    return TestResult(est, se, (above + 1) / (m + 1), (below + 1) / (m + 1), False, m)


def confidence_bounds(xs: Sequence, ys: Sequence, effect: Effect, relab: Relabellings, alpha: float,
                      lowest: float = -np.inf, highest: float = np.inf) -> tuple[float, float]:
    """The interval of margins delta not rejected by the one-sided tests at level `alpha` each
    (test inversion, so a bound crosses a margin exactly when that margin's test rejects).
    `lowest`/`highest` bound the search; a side the data cannot bound returns it."""
    base = studentized_test(xs, ys, effect, 0.0, relab)
    step = max(base.se, 1e-3)

    def p_greater(d):
        return studentized_test(xs, ys, effect, d, relab).p_greater

    def p_less(d):
        return studentized_test(xs, ys, effect, d, relab).p_less

    lo = _cross(p_greater, alpha, base.estimate, -step, lowest)
    hi = _cross(p_less, alpha, base.estimate, step, highest)
    return lo, hi


def _cross(p_of, alpha: float, start: float, step: float, limit: float, iters: int = 40) -> float:
    """The margin where `p_of` (which rejects far from `start` in the direction of `step`)
    reaches `alpha`: widen a bracket from `start` until a margin is rejected, then bisect. A
    side on which no margin up to `limit` is rejected returns `limit`."""
    inside = start
    for k in range(60):
        cand = start + step * 2**k
        beyond = (cand - limit) * np.sign(step) >= 0
        if beyond:
            cand = _nudge(limit, step)
        if p_of(cand) <= alpha:
            outside = cand
            break
        if beyond:
            return float(limit)
        inside = cand
    else:
        return float(limit)
    for _ in range(iters):
        mid = (inside + outside) / 2
        if p_of(mid) <= alpha:
            outside = mid
        else:
            inside = mid
    return float(inside)


def _nudge(limit: float, step: float) -> float:
    """A point just inside a finite search limit (a relative gain of exactly -100% is undefined)."""
    return limit - np.sign(step) * 1e-9
