"""Unit tests of the analysis layer on synthetic data whose answers are known by construction."""

from __future__ import annotations

import ast

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from pps.analysis import convergence as C
from pps.analysis.data import cells as K
from pps.analysis.data.collect import build_curves, build_final, grid_step
from pps.analysis.data.runs import load_runs, scan_runs
from pps.analysis.render import tables as T
from pps.analysis.stats import bootstrap as B
from pps.analysis.stats import estimators as E
from pps.analysis.stats import tables as ST
from pps.analysis.stats.figure_data import wallclock_medians, wallclock_runs
from pps.analysis.stats.ranktests import mann_whitney_exact
from pps.errors import UserError
from tests.helpers import REPO
from tests.helpers.synthetic_runs import write_run


# --------------------------------------------------------------------------- statistics
def test_iqm_of_a_known_sample():
    # 8 values: trim 25% each side -> mean of the middle four (3, 4, 5, 6) = 4.5
    assert E.iqm(np.array([100.0, 1, 3, 4, 5, 6, 2, -50])) == pytest.approx((2 + 3 + 4 + 5) / 4)
    assert E.iqm(np.arange(1.0, 9.0)) == pytest.approx(4.5)


def test_probability_of_improvement_hand_value():
    x, y = [1.0, 2.0, 3.0], [2.0, 2.0, 0.0]
    # pairs: 1 vs (2,2,0): 0+0+1 ; 2 vs: .5+.5+1 ; 3 vs: 1+1+1  -> 6/9
    assert E.probability_of_improvement(x, y) == pytest.approx(6 / 9)
    assert E.probability_of_improvement_batch(np.array(x), np.array(y)) == pytest.approx(6 / 9)
    assert E.probability_of_improvement([1, 1], [1, 1]) == pytest.approx(0.5)


def test_fdr_against_hand_computed_benjamini_hochberg():
    p = [0.01, 0.04, 0.03, 0.20, np.nan]
    # sorted 0.01, 0.03, 0.04, 0.20 (m=4): p*m/rank = .04, .06, .0533, .20; then the running
    # minimum from the largest rank down: .04, .0533, .0533, .20 (0.03 inherits 0.04's value)
    expected = [0.04, 0.16 / 3, 0.16 / 3, 0.20]
    got = E.fdr_bh(p)
    np.testing.assert_allclose(got[:4], expected, rtol=1e-6)
    assert np.isnan(got[4])


def test_large_effect_detected_same_distribution_not():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.8, 0.05, 10), rng.normal(0.3, 0.05, 10)
    assert E.welch_p(a, b) < 0.01 and E.mannwhitney_p(a, b) < 0.01
    assert E.hedges_g(a, b) > 3 and E.probability_of_improvement(a, b) == 1.0
    c, d = rng.normal(0.5, 0.1, 10), rng.normal(0.5, 0.1, 10)
    assert E.welch_p(c, d) > 0.05 and E.mannwhitney_p(c, d) > 0.05


def test_hedges_g_hand_value():
    x, y = np.array([1.0, 2, 3]), np.array([3.0, 4, 5])
    # pooled sd 1, d = -2, J = 1 - 3/(4*6-9) = 0.8
    assert E.hedges_g(x, y) == pytest.approx(-1.6)


def test_bootstrap_ci_tiny_and_degenerate_samples():
    rng = np.random.default_rng(0)
    assert np.isnan(B.bootstrap_ci([0.5], E.iqm, rng)[0])
    lo, hi, note = B.bootstrap_ci([0.3, 0.3, 0.3], E.iqm, rng)
    assert lo == hi == pytest.approx(0.3) and "equal" in note
    lo, hi, note = B.bootstrap_ci([0.1, 0.2, 0.9], E.mean, rng)
    assert lo <= 0.4 <= hi and note == ""


def _final(rows):
    df = pd.DataFrame(rows, columns=["env", "map", "method", "interval", "seed", "final_score"])
    df["interval"] = df["interval"].astype("Int64")
    return df


def test_cell_stats_is_deterministic_and_compares_to_baseline():
    rows = [("smax", "3m", "qmix", None, s, v) for s, v in enumerate([0.1, 0.2, 0.15, 0.12, 0.18])]
    rows += [("smax", "3m", "a-pps", 300, s, v) for s, v in enumerate([0.8, 0.9, 0.85, 0.82, 0.88])]
    rows += [("smax", "3m", "rs-pps", 300, s, v) for s, v in enumerate([0.1, 0.2, 0.15, 0.12, 0.18])]
    final = _final(rows)
    a, b = ST.cell_stats(final, "qmix", 0), ST.cell_stats(final, "qmix", 0)
    pd.testing.assert_frame_equal(a, b)
    apps = a[a["method"] == "a-pps"].iloc[0]
    assert apps["diff"] == pytest.approx(0.85 - 0.15) and apps["prob_improvement"] == 1.0
    assert apps["mannwhitney_p"] < 0.01 and apps["iqm_ci_low"] <= apps["iqm"] <= apps["iqm_ci_high"]
    same = a[a["method"] == "rs-pps"].iloc[0]
    assert same["prob_improvement"] == 0.5 and same["mannwhitney_p_fdr"] > 0.5
    np.testing.assert_allclose(a["welch_p_fdr"].dropna(), E.fdr_bh(a["welch_p"].dropna()))


def test_stratified_across_maps_relative_improvement():
    rows = []
    for m, base in (("3m", 0.5), ("8m", 0.4)):
        rows += [("smax", m, "qmix", None, s, base) for s in range(3)]
        rows += [("smax", m, "a-pps", 300, s, base * 1.2) for s in range(3)]
    agg = ST.across_maps(_final(rows), "qmix", 0)
    r = agg[agg["method"] == "a-pps"].iloc[0]
    # pooled IQM of (0.6 x3, 0.48 x3) = trim 1 each side of 6 -> mean(.48,.48,.6,.6)=.54; qmix .45
    assert r["iqm"] == pytest.approx(0.54) and r["rel_improvement"] == pytest.approx(0.2)
    assert r["n_maps"] == 2 and r["prob_improvement"] == 1.0


# --------------------------------------------------------------------------- convergence
def test_smoothing_is_trailing_mean():
    np.testing.assert_allclose(C.smooth(np.array([0, 3, 6, 9.0]), 3), [0, 1.5, 3, 6])
    np.testing.assert_allclose(C.smooth(np.array([0.2, 0.4]), 1), [0.2, 0.4])


def test_threshold_crossed_at_known_step_with_and_without_smoothing():
    steps = np.arange(0, 11) * 1000.0
    values = steps / 10_000  # linear 0 -> 1
    assert C.first_crossing(steps, values, 0.5) == 5000
    assert C.first_crossing(steps, values, 0.8) == 8000
    # trailing mean over 3 lags by one evaluation on a line
    assert C.first_crossing(steps, C.smooth(values, 3), 0.5) == 6000
    assert np.isnan(C.first_crossing(steps, values, 1.01))


def test_normalised_auc_of_a_linear_curve_is_half():
    steps = np.arange(0, 101) * 1000.0
    assert C.normalised_auc(steps, steps / steps[-1]) == pytest.approx(0.5)
    assert C.normalised_auc(steps, np.ones_like(steps)) == pytest.approx(1.0)


def test_convergence_from_run_folders(tmp_path):
    runs = tmp_path / "runs"
    # linear win rate t / T: crosses 0.5 at 50k, 0.8 at 80k; a constant 0 run never does
    for seed in range(3):
        write_run(runs, method="qmix", seed=seed, win=lambda s: s / 100_000, jitter=0)
        write_run(runs, method="a-pps", interval=300, seed=seed, win=lambda s: np.minimum(1, 2 * s / 100_000))
    write_run(runs, method="a-pps", interval=300, seed=3, win=0.0)
    curves = build_curves(load_runs(runs, report=lambda _: None))
    conv = C.run_convergence(curves, [0.5, 0.8], 1)
    q = conv[(conv["method"] == "qmix") & (conv["threshold"] == 0.5)]
    assert list(q["steps_to_threshold"]) == [50_000] * 3
    assert q["norm_auc"].tolist() == pytest.approx([0.5] * 3)
    a = conv[(conv["method"] == "a-pps") & (conv["threshold"] == 0.8)]
    assert list(a["steps_to_threshold"].iloc[:3]) == [40_000] * 3 and not a["reached"].iloc[3]
    sp = C.speedup_table(conv, "qmix", 0)
    r = sp[(sp["method"] == "a-pps") & (sp["threshold"] == 0.5)].iloc[0]
    assert r["n_reached"] == 3 and r["n_not_reached"] == 1
    # medians: qmix 50k; a-pps (25k, 25k, 25k, censored 100k) -> 25k; speed-up 2
    assert r["speedup"] == pytest.approx(2.0) and r["bound"] == ""


# --------------------------------------------------------------------------- aggregation and inputs
def test_grid_interpolation_aligns_jittered_runs(tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, seed=0, win=lambda s: s / 100_000, jitter=0)
    write_run(runs, seed=1, win=lambda s: s / 100_000, jitter=37, t_max=100_000)
    loaded = load_runs(runs, report=lambda _: None)
    assert grid_step(loaded) == 5000
    curves = build_curves(loaded)
    win = curves[curves["metric"] == "test_win_rate"]
    s1 = win[win["seed"] == 1].set_index("step")["value"]
    # a linear curve stays linear under linear interpolation
    assert s1.loc[50_000] == pytest.approx(0.5, abs=1e-3)
    assert set(win[win["seed"] == 0]["step"]) == set(range(0, 100_001, 5000))
    # no extrapolation: seed 1 starts at 0 and ends at 100_037, so it has every grid point
    loss = curves[(curves["metric"] == "loss") & (curves["seed"] == 0)]
    assert loss["step"].min() == 5000  # loss is empty at step 0 and not extrapolated
    final = build_final(loaded, 3)
    assert final["final_test_win_rate"].iloc[0] == pytest.approx(np.mean([0.9, 0.95, 1.0]))
    assert final["interval"].isna().all()


def test_no_runs_is_a_user_error(tmp_path):
    (tmp_path / "runs").mkdir()
    with pytest.raises(UserError, match="No run folders"):
        load_runs(tmp_path / "runs")
    with pytest.raises(UserError, match="does not exist"):
        load_runs(tmp_path / "nowhere")


def test_incomplete_runs_are_reported_and_left_out(tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, seed=0, win=0.5)
    no_json = write_run(runs, seed=1, win=0.5, write_json=False)
    running = write_run(runs, seed=2, win=0.5, status="running", partial=True)
    crashed = write_run(runs, seed=3, win=0.5, status="finished", partial=True)
    lines = []
    loaded = load_runs(runs, report=lines.append)
    assert [r.seed for r in loaded] == [0]
    text = "\n".join(lines)
    assert str(no_json) in text and "no run.json" in text
    assert str(running) in text and "'running'" in text
    assert str(crashed) in text and "only metrics.csv.partial" in text


def test_wrong_columns_is_an_error_naming_the_file(tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, seed=0)
    bad = write_run(runs, seed=1, columns=["step", "episodes", "updates", "wall_s", "win_rate"])
    with pytest.raises(UserError) as err:
        load_runs(runs)
    assert str(bad / "metrics.csv") in str(err.value) and "test_win_rate" in str(err.value)
    lines = []
    assert len(load_runs(runs, skip_invalid=True, report=lines.append)) == 1
    assert str(bad / "metrics.csv") in lines[0]


def test_run_json_must_match_its_folder(tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, seed=0, json_overrides={"seed": 7})
    scan = scan_runs(runs)
    assert not scan.runs and "seed7" in scan.invalid[0].reason


def test_interval_is_empty_for_non_aggregating_methods(tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, method="qmix", json_overrides={"interval": 300})  # recorded but meaningless
    write_run(runs, method="rs-pps", interval=50)
    final = build_final(load_runs(runs, report=lambda _: None), 3)
    intervals = final.set_index("method")["interval"]
    assert pd.isna(intervals["qmix"]) and intervals["rs-pps"] == 50


# --------------------------------------------------------------------------- exact rank tests
def test_mann_whitney_is_exact_with_ties():
    # SciPy's default switches to a normal approximation on ties and gives 0.047 here; the
    # exact permutation p of 3 vs 3 with complete separation is 2 / C(6, 3) = 0.1
    assert E.mannwhitney_p([1, 1, 1], [0, 0, 0]) == pytest.approx(0.1)
    assert E.mannwhitney_p([1, 1, 1], [0, 0, 0], "greater") == pytest.approx(0.05)
    assert np.isnan(E.mannwhitney_p([0.5, 0.5], [0.5, 0.5]))


@pytest.mark.parametrize("seed", range(6))
def test_exact_mann_whitney_matches_full_enumeration(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 4, 5) / 3, rng.integers(0, 4, 4) / 3  # win rates k/3: many ties

    def u(a, b, axis=-1):
        a, b = np.moveaxis(a, axis, -1)[..., :, None], np.moveaxis(b, axis, -1)[..., None, :]
        return ((a > b) + 0.5 * (a == b)).sum(axis=(-2, -1))

    for alt in ("two-sided", "greater", "less"):
        ref = sps.permutation_test((x, y), u, vectorized=True, alternative=alt, n_resamples=10**6,
                                   permutation_type="independent").pvalue  # 126 splits: enumerated
        assert mann_whitney_exact(x, y, alt) == pytest.approx(ref, abs=1e-12)


# --------------------------------------------------------------------------- intervals
def test_percentile_ci_keeps_infinite_resamples_and_refuses_nan():
    dist = np.r_[np.full(90, 1.0), np.full(10, np.inf)]
    assert B.percentile_ci(dist) == (1.0, np.inf)  # 10% infinite: the upper bound is infinite
    with pytest.raises(ValueError, match="NaN"):
        B.percentile_ci(np.array([1.0, np.nan]))
    np.testing.assert_array_equal(B.relative_resamples(np.array([0.5, 0.0, 0.2]), np.array([0.25, 0.0, 0.0])),
                                  [1.0, 0.0, np.inf])


def test_zero_width_intervals_are_marked():
    assert T.ci(0.0, 0.0, 0.0).endswith(T.DEGENERATE) and T.DEGENERATE not in T.ci(0.5, 0.4, 0.6)
    assert r"\dagger" in T.tex_escape(T.ci(0.0, 0.0, 0.0))
    rows = [("smax", "3m", "qmix", None, s, v) for s, v in enumerate([0.9, 0.8, 0.95])]
    rows += [("smax", "3m", "a-pps", 300, s, v) for s, v in enumerate([0.1, 0.2, 0.15])]
    st = ST.cell_stats(_final(rows), "qmix", 0)
    r = st[st["method"] == "a-pps"].iloc[0]
    assert r["pi_ci_low"] == r["pi_ci_high"] == 0.0 and "zero width" in r["note"]
    md = T.stats_markdown(st, "QMIX", "last 3")
    assert "0.00 [0.00, 0.00]†" in md and T.DEGENERATE_FOOTNOTE in md
    assert "with 3 seeds or fewer the IQM is the mean" in md


def test_iqm_small_n_note_says_mean_and_median():
    assert E.iqm([1.0, 2.0, 9.0]) == pytest.approx(4.0)  # the mean
    assert E.iqm([1.0, 2.0, 3.0, 9.0]) == pytest.approx(2.5)  # the median
    assert "mean" in E.iqm_small_n_note([3, 5]) and "median" not in E.iqm_small_n_note([3, 5])
    assert "median" in E.iqm_small_n_note([4]) and E.iqm_small_n_note([5, 10]) == ""


def test_across_maps_compares_on_one_map_set():
    rows = [("smax", "3m", "qmix", None, s, v) for s, v in enumerate([0.4, 0.5, 0.6])]
    rows += [("smax", "3m", "a-pps", 300, s, v) for s, v in enumerate([0.5, 0.6, 0.7])]
    rows += [("smax", "8m", "a-pps", 300, s, v) for s, v in enumerate([0.0, 0.0, 0.1])]  # no QMIX on 8m
    r = ST.across_maps(_final(rows), "qmix", 0).set_index("method").loc["a-pps"]
    assert r["compared_maps"] == 1 and r["compared_iqm"] == pytest.approx(0.6)
    assert r["diff"] == pytest.approx(r["compared_iqm"] - r["baseline_iqm"]) == pytest.approx(0.1)
    assert r["iqm"] != pytest.approx(r["compared_iqm"])  # all of the method's maps
    assert "compared with qmix on the 1 map(s)" in r["note"]


# --------------------------------------------------------------------------- Kaplan-Meier
def test_km_median_with_runs_of_mixed_length():
    # two short runs stopped (censored) at 20k and 30k before reaching; crossings at 10k, 50k, 60k.
    # KM: S = 4/5 after 10k, the censored runs leave the risk set, S = 4/5 * 1/2 = 0.4 at 50k.
    # Checking only whether a censored run sits at the sorted middle (30k) calls it "> 30k".
    steps = np.array([10e3, 50e3, 60e3, 20e3, 30e3])
    reached = np.array([True, True, True, False, False])
    assert C.km_median(steps, reached) == (50e3, False)


def test_km_median_censored_at_the_median():
    assert C.km_median(np.array([10.0, 20, 100, 100]), np.array([1, 1, 0, 0], bool)) == (20.0, True)
    assert C.km_median(np.array([10.0, 50, 50]), np.array([1, 0, 0], bool)) == (50.0, True)
    # no censoring: the ordinary median (midpoint for even n)
    assert C.km_median(np.array([10.0, 20, 30, 40]), np.ones(4, bool)) == (25.0, False)


def test_km_median_recovers_a_known_median_under_heavy_censoring():
    rng = np.random.default_rng(0)
    true = 100_000 * rng.exponential(1 / np.log(2), 4000)  # median exactly 100k
    stop = rng.uniform(20_000, 400_000, true.size)  # runs of unequal length
    steps, reached = np.minimum(true, stop), true <= stop
    km, bound = C.km_median(steps, reached)
    assert not bound and km == pytest.approx(100_000, rel=0.06)
    assert np.median(steps) < 85_000  # censoring points counted as crossings: biased early


def test_km_batch_agrees_with_scipy_ecdf():
    rng = np.random.default_rng(1)
    for _ in range(500):
        n = int(rng.integers(1, 9))
        steps, reached = rng.integers(1, 6, n) * 1000.0, rng.random(n) < 0.6
        value, bound = C.km_median(steps, reached)
        assert C.km_median_batch(steps[None], reached[None])[0] == (np.inf if bound else value)


def test_speedup_bootstrap_keeps_never_reached_resamples():
    conv = pd.DataFrame({
        "env": "smax", "map": "3m", "method": ["qmix"] * 4 + ["a-pps"] * 4, "interval": [pd.NA] * 4 + [300] * 4,
        "seed": [0, 1, 2, 3] * 2, "threshold": 0.5,
        "steps_to_threshold": [40e3, 50e3, 50e3, 60e3, 20e3, 25e3, np.nan, np.nan],
        "reached": [True] * 6 + [False] * 2, "last_step": 100e3, "norm_auc": 0.5,
    })
    conv["interval"] = conv["interval"].astype("Int64")
    r = C.speedup_table(conv, "qmix", 0).set_index("method").loc["a-pps"]
    # KM median of A-PPS: S = 3/4, 1/2 (flat to the end, censored at 100k): a lower bound of 25k
    assert r["median_censored"] and r["median_steps"] == 25e3 and r["bound"] == "upper"
    # resamples with more censored than reached runs have no median: ratio 0, kept, not dropped
    assert r["speedup_ci_low"] == 0.0 and np.isfinite(r["speedup_ci_high"])


# --------------------------------------------------------------------------- figures
def test_zero_width_intervals_are_drawn_open_and_wallclock_caption_matches_axis():
    import matplotlib.pyplot as plt  # matplotlib and the figures: only the figure tests import them

    from pps.analysis.figures import paper as P
    from pps.analysis.figures.layout import FULL
    from pps.analysis.figures.panels import forest
    from pps.analysis.render.style import method_style
    from pps.plan import figure_captions
    from pps.run_cost import COST_UNIT

    fig, ax = plt.subplots()
    styles = [method_style("qmix"), method_style("a-pps")]
    assert forest(ax, ["a", "b"], [0.0, 0.5], [0.0, 0.4], [0.0, 0.6], styles, ref=0.5)
    open_markers = [ln for ln in ax.lines if ln.get_markerfacecolor() == "white"]
    assert len(open_markers) == 1 and list(open_markers[0].get_xdata()) == [0.0]
    assert not forest(ax, ["a"], [0.5], [0.4], [0.6], styles[:1])
    plt.close(fig)
    final = _final([("smax", "3m", "qmix", None, s, 0.5) for s in range(3)])
    final["s_per_million_steps"] = [3600.0, 7200.0, 5400.0]
    runs = wallclock_runs(final)
    assert runs["hours"].tolist() == [1.0, 2.0, 1.5]
    fig = P.wallclock(runs, wallclock_medians(runs, 0), size=FULL)
    assert fig.axes[0].get_xlabel() == COST_UNIT == "hours per million env steps"
    assert "hours per million environment steps" in figure_captions()["wallclock"]
    plt.close(fig)


# --------------------------------------------------------------------------- cells
def test_one_cell_filter_for_every_table():
    df = _final([("smax", "3m", "qmix", None, 0, 0.1), ("smax", "3m", "a-pps", 300, 0, 0.2),
                 ("smax", "3m", "a-pps", 100, 0, 0.3), ("smax", "3m", "zz-new", None, 0, 0.4)])
    assert K.select(df, "a-pps", 300)["final_score"].tolist() == [0.2]
    # an empty interval matches the empty rows, whether it is given as None, NaN or <NA>
    for empty in (None, float("nan"), pd.NA):
        assert K.select(df, "qmix", empty)["final_score"].tolist() == [0.1]
    assert K.cells(df) == [("qmix", None), ("a-pps", 100), ("a-pps", 300), ("zz-new", None)]
    assert [K.cell_label(m, k) for m, k in K.cells(df)] == ["QMIX", "A-PPS (K=100)", "A-PPS (K=300)", "zz-new"]
    assert K.method_order({"zz-new", "a-pps", "qmix"}) == ["qmix", "a-pps", "zz-new"]


def test_the_judged_cell_is_the_claims_interval_or_the_nearest_on_a_log_scale():
    assert K.pick_interval([100, 1000], 300) == 100  # log distance 1.1 vs 1.2
    assert K.pick_interval([200, 450], 300) == 200 and K.pick_interval([300, 100], 300) == 300
    assert K.pick_interval([], 300) is None
    df = _final([("smax", "3m", "qmix", None, 0, 0.1), ("smax", "3m", "a-pps", 100, 0, 0.2),
                 ("smax", "3m", "a-pps", 1000, 0, 0.3)])
    chosen = K.chosen_cells(df, 300)
    assert chosen == {"qmix": None, "a-pps": 100}
    assert df[K.chosen_mask(df, chosen)]["final_score"].tolist() == [0.1, 0.2]
    per_map = K.per_map(df, "a-pps", 100)
    assert list(per_map) == [("smax", "3m")] and per_map[("smax", "3m")].tolist() == [0.2]


def test_figures_draw_and_never_resample():
    # every bootstrap behind a figure is computed in pps.analysis.stats (figure_data or the
    # tables), so a figure can be checked against the numbers it was given
    resampling = {"rng_for", "bootstrap_ci", "bootstrap_ci2", "percentile_ci", "stratified_resample", "iqm_band",
                  "integers"}
    for path in (REPO / "pps" / "analysis" / "figures").glob("*.py"):
        names = {n.attr if isinstance(n, ast.Attribute) else n.id for n in ast.walk(ast.parse(path.read_text()))
                 if isinstance(n, (ast.Attribute, ast.Name))}
        assert not names & resampling, f"{path.name} resamples: {sorted(names & resampling)}"
