"""The across-map views of Agarwal et al. (2021) on small samples whose answers are computed by
hand: the estimates of across_maps.csv (median of map means, IQM, mean, optimality gap), the
performance profile and the sample-efficiency curve, each with its stratified bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pps.analysis.stats import bootstrap as B
from pps.analysis.stats import estimators as E
from pps.analysis.stats import figure_data as FD
from pps.analysis.stats import tables as ST

# three maps with 2, 3 and 1 runs: map means 0.2, 0.7 and 1.0
STRATA = {"3m": [0.1, 0.3], "8m": [0.5, 0.7, 0.9], "2s3z": [1.0]}


def _final(strata: dict[str, list[float]], method: str = "qmix", interval=None, env: str = "smax") -> pd.DataFrame:
    rows = [{"env": env, "map": m, "method": method, "interval": interval, "seed": s, "score_kind": "win_rate",
             "final_score": v} for m, vs in strata.items() for s, v in enumerate(vs)]
    df = pd.DataFrame(rows)
    df["interval"] = df["interval"].astype("Int64")
    return df


def test_optimality_gap_is_the_mean_shortfall_below_one_with_no_credit_above():
    # shortfalls 0.8, 0.5, 0, 0 (1.3 earns nothing) -> 1.3 / 4
    assert E.optimality_gap([0.2, 0.5, 1.0, 1.3]) == pytest.approx(0.325)
    assert E.optimality_gap([1.0, 1.0]) == 0.0 and E.optimality_gap([-0.5, 0.0]) == pytest.approx(1.25)
    np.testing.assert_allclose(E.optimality_gap(np.array([[0.0, 1.0], [0.5, 0.5]]), axis=1), [0.5, 0.5])


def test_median_of_map_means_follows_the_strata():
    x = np.array([0.1, 0.3, 0.5, 0.7, 0.9, 1.0])
    assert E.median_of_means(x, [2, 3, 1]) == pytest.approx(0.7)  # median of 0.2, 0.7, 1.0
    assert E.median_of_means(x, [2, 4]) == pytest.approx((0.2 + 0.775) / 2)  # two maps: their mean
    batch = np.stack([x, x[::-1]])  # resamples in rows
    np.testing.assert_allclose(E.median_of_means(batch, [2, 3, 1]), [0.7, np.median([0.95, 0.5, 0.1])])


def test_across_maps_appends_the_four_estimates_with_one_set_of_resamples():
    out = ST.across_maps(_final(STRATA), "qmix", seed=0)
    columns = list(out.columns)
    assert columns[-len(ST.ESTIMATE_COLUMNS):] == list(ST.ESTIMATE_COLUMNS)
    assert columns.index("note") == len(columns) - len(ST.ESTIMATE_COLUMNS) - 1  # appended after the old ones
    r = out.iloc[0]
    # pooled 0.1 0.3 0.5 0.7 0.9 1.0: IQM trims one run each end -> (0.3 + 0.5 + 0.7 + 0.9) / 4
    assert r["iqm"] == pytest.approx(0.6)
    assert r["median"] == pytest.approx(0.7) and r["mean"] == pytest.approx(3.5 / 6)
    assert r["optimality_gap"] == pytest.approx((0.9 + 0.7 + 0.5 + 0.3 + 0.1 + 0) / 6)
    for name in ("iqm", "median", "mean", "optimality_gap"):
        assert r[f"{name}_ci_low"] <= r[name] <= r[f"{name}_ci_high"]
    # the IQM's CI is drawn as it always was: the first draw of the cell's generator
    boot = B.stratified_resample([np.array(v) for _, v in sorted(STRATA.items())],
                                 B.rng_for(0, "aggregate", "qmix", None))
    assert (r["iqm_ci_low"], r["iqm_ci_high"]) == B.percentile_ci(E.iqm(boot, axis=1))
    assert (r["optimality_gap_ci_low"], r["optimality_gap_ci_high"]) == B.percentile_ci(E.optimality_gap(boot))
    # the mean and the optimality gap are mirror images when no score exceeds 1
    assert r["optimality_gap_ci_low"] == pytest.approx(1 - r["mean_ci_high"])


def test_a_degenerate_pool_gives_point_intervals_for_every_estimate():
    r = ST.across_maps(_final({"3m": [0.5, 0.5], "8m": [0.5]}), "qmix", seed=0).iloc[0]
    for name, value in (("median", 0.5), ("iqm", 0.5), ("mean", 0.5), ("optimality_gap", 0.5)):
        assert r[name] == r[f"{name}_ci_low"] == r[f"{name}_ci_high"] == pytest.approx(value)


def test_stratified_indices_draw_what_stratified_resample_draws():
    strata = [np.array([1.0, 2.0, 3.0]), np.array([5.0, 6.0]), np.array([7.0, 8.0, 9.0, 10.0])]
    values = B.stratified_resample(strata, np.random.default_rng(3), 50)
    rows = B.stratified_indices([3, 2, 4], np.random.default_rng(3), 50)
    np.testing.assert_array_equal(np.concatenate(strata)[rows], values)
    assert (rows[:, :3] < 3).all() and ((rows[:, 3:5] >= 3) & (rows[:, 3:5] < 5)).all()


def test_percentile_band_is_percentile_ci_per_point():
    boot = np.random.default_rng(0).normal(size=(1000, 3))
    lo, hi = B.percentile_band(boot)
    for j in range(3):
        assert (lo[j], hi[j]) == pytest.approx(B.percentile_ci(boot[:, j]))


def test_fraction_above_counts_strictly_greater_scores():
    x = np.array([0.1, 0.5, 0.5, 0.9])
    np.testing.assert_allclose(FD.fraction_above(x, np.array([0.0, 0.4, 0.5, 0.9, 1.0])), [1, 0.75, 0.25, 0, 0])
    np.testing.assert_allclose(FD.fraction_above(np.stack([x, x + 0.5]), np.array([0.9])), [[0.0], [0.75]])
    assert FD.profile_taus(np.array([0.2, 0.4]), 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert FD.profile_taus(np.array([-0.5, 1.5]), 3).tolist() == [-0.5, 0.5, 1.5]  # normalised returns widen it


def test_performance_profile_pools_the_runs_of_every_map_with_a_stratified_band():
    final = pd.concat([_final(STRATA), _final({"3m": [0.9, 0.9], "8m": [0.2, 0.2, 0.2], "2s3z": [0.0]},
                                              method="a-pps", interval=300)])
    chosen = {"qmix": None, "a-pps": 300}
    (pool,) = FD.performance_profiles(final, chosen, seed=0)
    assert pool.tasks == "all" and pool.n_maps == 3 and pool.taus[0] == 0.0 and pool.taus[-1] == 1.0
    q, a = pool.profiles[("qmix", None)], pool.profiles[("a-pps", 300)]
    at = {float(t): i for i, t in enumerate(pool.taus)}
    # qmix: runs above 0.5 are 0.7, 0.9, 1.0 -> 3 of 6; above 0.0: all six; above 1.0: none
    assert (q.fraction[at[0.5]], q.fraction[at[0.0]], q.fraction[at[1.0]]) == (0.5, 1.0, 0.0)
    assert a.fraction[at[0.5]] == pytest.approx(2 / 6) and a.fraction[at[0.0]] == pytest.approx(5 / 6)
    assert (q.n, q.n_maps) == (6, 3)
    assert (q.low <= q.fraction + 1e-12).all() and (q.fraction <= q.high + 1e-12).all()
    # the band resamples within maps: 2s3z's single run of qmix is always 1.0, so above 0.99 at least 1/6
    assert q.low[at[0.995]] >= 1 / 6 - 1e-12
    again = FD.performance_profiles(final, chosen, seed=0)[0].profiles[("qmix", None)]
    np.testing.assert_array_equal(again.low, q.low)  # seeded: the same band every time


def test_profiles_and_curves_come_per_pool_of_tasks_like_across_maps():
    mixed = pd.concat([_final({"3m": [0.2, 0.4]}), _final({"spread": [0.6, 0.8]}, env="mpe")])
    mixed.loc[mixed["env"] == "mpe", "score_kind"] = "normalised_return"
    pools = FD.performance_profiles(mixed, {"qmix": None}, seed=0)
    assert [(p.tasks, p.kind, p.n_maps) for p in pools] == [
        ("all", "mixed", 2), ("win_rate", "win_rate", 1), ("normalised_return", "normalised_return", 1)]
    at = {float(t): i for i, t in enumerate(pools[1].taus)}
    assert pools[1].profiles[("qmix", None)].fraction[at[0.3]] == 0.5  # 0.4 of 0.2, 0.4


def _curves(cells: dict[tuple[str, str], list[list[float]]], steps) -> pd.DataFrame:
    """curves.csv rows of qmix's score: (env, map) -> one list of values per seed, at `steps`."""
    rows = [{"env": env, "map": m, "method": "qmix", "interval": None, "seed": s, "step": st, "metric": "score",
             "value": v} for (env, m), seeds in cells.items() for s, vals in enumerate(seeds)
            for st, v in zip(steps, vals)]
    df = pd.DataFrame(rows)
    df["interval"] = df["interval"].astype("Int64")
    return df


def test_sample_efficiency_is_the_iqm_across_maps_at_the_steps_every_run_reaches():
    steps = [0, 10, 20]
    curves = _curves({("smax", "3m"): [[0.0, 0.2, 0.4], [0.0, 0.4, 0.8]],
                      ("smax", "8m"): [[0.0, 0.1, np.nan], [0.2, 0.3, np.nan], [0.1, 0.5, np.nan]]}, steps)
    final = _final({"3m": [0.4, 0.8], "8m": [0.1, 0.3, 0.5]})
    (pool,) = FD.sample_efficiency(curves, final, {"qmix": None}, seed=0)
    c = pool.curves[("qmix", None)]
    assert c.steps.tolist() == [0.0, 10.0]  # 8m's runs stop before step 20: never extrapolated
    # step 10: values 0.2, 0.4, 0.1, 0.3, 0.5 -> IQM of five trims one each end -> (0.2 + 0.3 + 0.4) / 3
    assert c.iqm[1] == pytest.approx(0.3) and c.iqm[0] == pytest.approx(0.1 / 3)
    assert (c.n, c.n_maps) == (5, 2)
    assert (c.low <= c.iqm + 1e-12).all() and (c.iqm <= c.high + 1e-12).all()
    # the band resamples whole runs within each map, from the cell's own generator
    rows = B.stratified_indices([2, 3], B.rng_for(0, "efficiency", "all", "qmix", None))
    matrix = np.array([[0.0, 0.2], [0.0, 0.4], [0.0, 0.1], [0.2, 0.3], [0.1, 0.5]])
    lo, hi = B.percentile_band(E.iqm(matrix[rows], axis=1))
    np.testing.assert_allclose(c.low, lo) and np.testing.assert_allclose(c.high, hi)


def test_sample_efficiency_thins_a_long_grid_keeping_the_last_step():
    steps = list(range(0, 1001, 5))  # 201 steps
    curves = _curves({("smax", "3m"): [list(np.linspace(0, 1, 201)), list(np.linspace(0, 0.5, 201))]}, steps)
    (pool,) = FD.sample_efficiency(curves, _final({"3m": [1.0, 0.5]}), {"qmix": None}, seed=0, points=20)
    c = pool.curves[("qmix", None)]
    assert len(c.steps) == 20 and c.steps[0] == 0 and c.steps[-1] == 1000
