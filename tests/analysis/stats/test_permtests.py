"""The studentized permutation tests behind claims 1 and 3, on inputs whose answers are known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pps.analysis.stats import permtests as P

GAIN = P.RelativeGain(floor=0.05)


def _brute_force_p(xs, ys, effect, delta, guarded=True):
    """Every within-map relabelling listed by hand: the share with T at least the observed."""
    pooled = [np.concatenate([np.asarray(x, float), effect.to_null(np.asarray(y, float), delta)])
              for x, y in zip(xs, ys)]
    per_map = []
    for x, z in zip(xs, pooled):
        masks = []
        for idx in itertools.combinations(range(z.size), len(x)):
            m = np.zeros(z.size)
            m[list(idx)] = 1
            masks.append(m)
        per_map.append(masks)
    ts = []
    for combo in itertools.product(*per_map):
        t, _, _ = P._studentized(pooled, [m[None, :] for m in combo], effect, delta, guarded)
        ts.append(t[0])
    ident = [np.r_[np.ones(len(x)), np.zeros(len(y))][None, :] for x, y in zip(xs, ys)]
    t_obs = P._studentized(pooled, ident, effect, delta, guarded)[0][0]
    return np.mean(np.array(ts) >= t_obs - 1e-9)


def test_enumeration_counts_every_relabelling():
    xs, ys = [[0.5, 0.7, 0.9], [0.2, 0.3]], [[0.1, 0.4, 0.3], [0.1, 0.0, 0.2]]
    relab = P.relabellings([(3, 3), (2, 3)], np.random.default_rng(0))
    assert relab.exact and relab.count == 20 * 10
    for delta in (0.0, 0.1):
        r = P.studentized_test(xs, ys, GAIN, delta, relab)
        assert r.p_greater == pytest.approx(_brute_force_p(xs, ys, GAIN, delta))


def test_monte_carlo_p_is_b_plus_one_over_m_plus_one():
    rng = np.random.default_rng(1)
    xs, ys = [rng.uniform(0.3, 0.6, 10) for _ in range(3)], [rng.uniform(0.3, 0.6, 10) for _ in range(3)]
    relab = P.relabellings([(10, 10)] * 3, np.random.default_rng(2), P.PermutationConfig(resamples=199))
    r = P.studentized_test(xs, ys, P.MeanDifference(), 0.0, relab)
    assert not r.exact and r.relabellings == 199
    assert r.p_greater * 200 == pytest.approx(round(r.p_greater * 200)) and r.p_greater >= 1 / 200
    # the same seed gives the same p: tables are reproducible
    again = P.studentized_test(xs, ys, P.MeanDifference(), 0.0,
                               P.relabellings([(10, 10)] * 3, np.random.default_rng(2), P.PermutationConfig(199)))
    assert again.p_greater == r.p_greater


def test_uneven_seed_counts_and_large_grids_never_refuse():
    # the old exact convolution refused this grid ("grid of 453600; too large")
    rng = np.random.default_rng(3)
    sizes = list(zip((10, 9, 8, 7, 6), (10, 9, 10, 10, 10)))
    xs, ys = [rng.uniform(0, 1, a) for a, _ in sizes], [rng.uniform(0, 1, b) for _, b in sizes]
    relab = P.relabellings(sizes, rng, P.PermutationConfig(resamples=999))
    r = P.studentized_test(xs, ys, GAIN, 0.1, relab)
    assert 0 < r.p_greater <= 1 and 0 < r.p_less <= 1 and not r.exact


def test_estimate_is_the_average_over_maps_of_the_per_map_relative_gain():
    xs = [np.full(4, 0.6), np.full(4, 0.05), np.full(4, 0.95)]
    ys = [np.full(4, 0.5), np.full(4, 0.05), np.full(4, 0.95)]
    relab = P.relabellings([(4, 4)] * 3, np.random.default_rng(0), P.PermutationConfig(resamples=99))
    r = P.studentized_test(xs, ys, GAIN, 0.0, relab)
    assert r.estimate == pytest.approx((0.2 + 0 + 0) / 3)  # not the pooled +6.7% of means, by coincidence equal
    # a baseline below the floor: the gain is counted in units of the floor, not divided by ~0
    r = P.studentized_test([np.full(4, 0.11)], [np.full(4, 0.01)], GAIN, 0.0,
                           P.relabellings([(4, 4)], np.random.default_rng(0)))
    assert r.estimate == pytest.approx(0.10 / 0.05)


def test_level_under_interchangeable_runs_with_ties():
    # exact enumeration: P(p <= a) <= a under the null, whatever the ties (win rates k/4)
    rng = np.random.default_rng(4)
    ps = []
    for _ in range(300):
        xs = [rng.integers(0, 5, 4) / 4 for _ in range(2)]
        ys = [rng.integers(0, 5, 4) / 4 for _ in range(2)]
        relab = P.relabellings([(4, 4)] * 2, rng)
        ps.append(P.studentized_test(xs, ys, P.MeanDifference(), 0.0, relab).p_greater)
    ps = np.array(ps)
    for a in (0.05, 0.1, 0.25):
        assert np.mean(ps <= a) <= a + 0.04


def test_margin_test_is_exact_under_the_scaled_sharp_null():
    # PPS runs distributed as exactly 1.1 x QMIX's: the test of "gain <= 10%" holds its level
    rng = np.random.default_rng(5)
    hits = 0
    for _ in range(300):
        base = [rng.uniform(0.2, 0.8, 5) for _ in range(2)]
        xs = [1.1 * rng.uniform(0.2, 0.8, 5) for _ in range(2)]
        relab = P.relabellings([(5, 5)] * 2, rng, P.PermutationConfig(resamples=199))
        hits += P.studentized_test(xs, base, GAIN, 0.10, relab).p_greater <= 0.1
    assert hits / 300 <= 0.1 + 0.05


def test_confidence_bounds_invert_the_tests():
    rng = np.random.default_rng(6)
    ys = [rng.uniform(0.3, 0.5, 10) for _ in range(3)]
    xs = [1.3 * y + rng.normal(0, 0.03, 10) for y in ys]
    relab = P.relabellings([(10, 10)] * 3, np.random.default_rng(7), P.PermutationConfig(resamples=999))
    a = 0.025
    lo, hi = P.confidence_bounds(xs, ys, GAIN, relab, a, lowest=-1.0)
    assert lo < 0.3 < hi
    assert P.studentized_test(xs, ys, GAIN, lo - 0.01, relab).p_greater <= a
    assert P.studentized_test(xs, ys, GAIN, lo + 0.01, relab).p_greater > a
    assert P.studentized_test(xs, ys, GAIN, hi + 0.01, relab).p_less <= a
    assert P.studentized_test(xs, ys, GAIN, hi - 0.01, relab).p_less > a


def test_a_map_needs_two_runs_per_side():
    with pytest.raises(ValueError, match="at least 2 runs"):
        P.studentized_test([[0.5]], [[0.4, 0.3]], GAIN, 0.0, P.relabellings([(1, 2)], np.random.default_rng(0)))
