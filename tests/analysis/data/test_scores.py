"""Scores across task families: the normalisation on hand-made returns, and every
step of the analysis (curves, final, statistics, convergence, claims, tables, figures) on
runs whose scores are known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pps.analysis import convergence as C
from pps.analysis.claims import rules as K
from pps.analysis.claims import verdicts as V
from pps.analysis.data import scores
from pps.analysis.data.cells import chosen_cells
from pps.analysis.data.collect import collect
from pps.analysis.data.runs import load_runs
from pps.analysis.render import tables as T
from pps.analysis.render.claims import claim_rs_high_dim, claim_wins, claims_markdown
from pps.analysis.stats import bootstrap as B
from pps.analysis.stats import tables as ST
from pps.analysis.stats.figure_data import learning_curve_bands
from pps.envs.references import load_references, normalised_score
from pps.envs.registry import MAPS
from pps.errors import UserError
from tests.helpers.synthetic_runs import write_run

# simple_spread_v3's committed anchors (pps/envs/score_references.csv)
R_RANDOM, R_REF = -80.1471, -26.2971
SPREAD = "simple_spread_v3"


def _ret(score):
    """The team return whose normalised score on simple_spread_v3 is `score`."""
    return R_RANDOM + np.asarray(score, float) * (R_REF - R_RANDOM)


# --------------------------------------------------------------------------- the normalisation
def test_normalised_score_on_hand_made_returns():
    table = pd.DataFrame({"env": ["mpe"], "map": ["toy"], "r_random": [-10.0], "r_ref": [-2.0]})
    # (R - R_random) / (R_ref - R_random) with R_random = -10, R_ref = -2
    np.testing.assert_allclose(normalised_score([-10.0, -2.0, -6.0, -18.0, 2.0], "mpe", "toy", table),
                               [0.0, 1.0, 0.5, -1.0, 1.5])
    rule = scores.ScoreRule(scores.NORMALISED_RETURN, -10.0, -2.0)
    np.testing.assert_allclose(rule(win_rate=[0.0, 0.0], returns=[-6.0, -1.0]), [0.5, 1.125])
    # the committed table: random policy -> 0, reference policy -> 1
    spread = scores.score_rule("mpe", SPREAD)
    assert (spread.r_random, spread.r_ref) == (R_RANDOM, R_REF)
    np.testing.assert_allclose(spread(0.0, [R_RANDOM, R_REF, (R_RANDOM + R_REF) / 2]), [0.0, 1.0, 0.5])


def test_win_rate_tasks_score_their_win_rate_whatever_the_return():
    rule = scores.score_rule("smax", "3m")
    assert rule.kind == scores.WIN_RATE and np.isnan(rule.r_random)
    np.testing.assert_array_equal(rule([0.0, 0.25, 1.0], [5.0, -3.0, 20.0]), [0.0, 0.25, 1.0])
    assert scores.score_kind("smac") == scores.WIN_RATE and scores.score_kind("mpe") == scores.NORMALISED_RETURN


def test_unknown_env_and_missing_reference_name_the_fix():
    with pytest.raises(UserError, match="no backend of that name"):
        scores.score_kind("mujoco")
    table = load_references()
    with pytest.raises(UserError, match="pps references --env mpe --map simple_reference_v3 --write"):
        scores.score_rule("mpe", "simple_reference_v3", table[table["map"] != "simple_reference_v3"])


def test_every_mpe_task_has_a_reference_row():
    table = load_references()
    assert set(MAPS["mpe"]) <= set(table.loc[table["env"] == "mpe", "map"])
    assert (table["r_ref"] > table["r_random"]).all()  # higher return is better on every task


# --------------------------------------------------------------------------- curves.csv and final.csv
@pytest.fixture()
def mixed_runs(tmp_path):
    """smax/3m win rates and mpe/simple_spread_v3 returns whose scores are known exactly."""
    runs = tmp_path / "runs"
    for seed in range(3):
        write_run(runs, map_="3m", method="qmix", seed=seed, win=lambda s: s / 100_000)
        # score rises linearly from -1 (worse than random) to 1 (the reference) over training
        write_run(runs, env="mpe", map_=SPREAD, method="qmix", seed=seed, win=0.0,
                  returns=lambda s: _ret(-1 + 2 * s / 100_000))
    return runs


def test_curves_and_final_carry_raw_returns_and_scores(mixed_runs):
    curves, final = collect(load_runs(mixed_runs, report=lambda _: None), 3)
    mpe = curves[curves["env"] == "mpe"]
    score = mpe[mpe["metric"] == "score"].set_index(["seed", "step"])["value"]
    raw = mpe[mpe["metric"] == "test_return_mean"].set_index(["seed", "step"])["value"]
    assert score.loc[(0, 0)] == pytest.approx(-1.0) and score.loc[(0, 50_000)] == pytest.approx(0.0)
    assert score.loc[(0, 100_000)] == pytest.approx(1.0) and raw.loc[(0, 100_000)] == pytest.approx(R_REF)
    # no win condition: no win-rate rows, rather than rows saying "never won"
    assert "test_win_rate" not in set(mpe["metric"])
    smax = curves[curves["env"] == "smax"]
    s_score = smax[smax["metric"] == "score"]["value"].to_numpy()
    np.testing.assert_array_equal(s_score, smax[smax["metric"] == "test_win_rate"]["value"].to_numpy())

    f = final.set_index(["env", "seed"])
    last3 = -1 + 2 * np.array([90_000, 95_000, 100_000]) / 100_000
    assert f.loc[("mpe", 0), "final_score"] == pytest.approx(last3.mean())
    assert f.loc[("mpe", 0), "final_test_return_mean"] == pytest.approx(_ret(last3).mean())
    assert np.isnan(f.loc[("mpe", 0), "final_test_win_rate"])
    assert (f.loc[("mpe", 0), "score_kind"], f.loc[("mpe", 0), "r_random"], f.loc[("mpe", 0), "r_ref"]) == (
        scores.NORMALISED_RETURN, R_RANDOM, R_REF)
    assert f.loc[("smax", 0), "final_score"] == f.loc[("smax", 0), "final_test_win_rate"]
    assert f.loc[("smax", 0), "score_kind"] == scores.WIN_RATE and np.isnan(f.loc[("smax", 0), "r_ref"])


def test_scores_do_not_change_with_the_methods_that_ran(mixed_runs):
    before = collect(load_runs(mixed_runs, report=lambda _: None), 3)[1]
    for seed in range(3):  # a much better method joins: QMIX's scores must not move
        write_run(mixed_runs, env="mpe", map_=SPREAD, method="a-pps", interval=50, seed=seed, win=0.0,
                  returns=_ret(3.0))
    after = collect(load_runs(mixed_runs, report=lambda _: None), 3)[1]
    q = after[after["method"] == "qmix"].reset_index(drop=True)
    pd.testing.assert_series_equal(q["final_score"], before["final_score"].reset_index(drop=True))
    assert after.loc[after["method"] == "a-pps", "final_score"].tolist() == pytest.approx([3.0] * 3)


def test_a_missing_reference_row_stops_collect(tmp_path):
    write_run(tmp_path / "runs", env="mpe", map_=SPREAD, win=0.0, returns=-50.0)
    table = load_references()
    with pytest.raises(UserError, match=f"pps references --env mpe --map {SPREAD}"):
        collect(load_runs(tmp_path / "runs", report=lambda _: None), 3, references=table[table["map"] != SPREAD])


# --------------------------------------------------------------------------- convergence and statistics
def test_convergence_thresholds_apply_to_the_score(mixed_runs):
    curves, _ = collect(load_runs(mixed_runs, report=lambda _: None), 3)
    conv = C.run_convergence(curves, [0.5], 1).set_index(["env", "seed"])
    # smax: win rate s/100k reaches 0.5 at 50k; mpe: score -1 + 2 s/100k reaches 0.5 at 75k
    assert conv.loc[("smax", 0), "steps_to_threshold"] == 50_000
    assert conv.loc[("mpe", 0), "steps_to_threshold"] == 75_000
    assert conv.loc[("mpe", 0), "norm_auc"] == pytest.approx(0.0)  # the average score over training
    assert conv.loc[("mpe", 0), "score_kind"] == scores.NORMALISED_RETURN


def _final(rows):
    df = pd.DataFrame(rows, columns=["env", "map", "method", "interval", "seed", "final_score"])
    df["interval"] = df["interval"].astype("Int64")
    df["score_kind"] = [scores.score_kind(e) for e in df["env"]]
    return df


def test_relative_improvement_below_random_is_undefined_and_its_ci_conservative():
    dm, db = np.array([0.6, 0.5, 0.0, -0.1, -0.2]), np.array([0.3, -0.2, 0.0, -0.5, -0.2])
    # db > 0: ratio; db <= 0: +inf if dm > 0, 0 if equal, undefined otherwise
    np.testing.assert_array_equal(B.relative_resamples(dm, db), [1.0, np.inf, 0.0, np.nan, 0.0])
    # 10% undefined resamples: each bound takes them at its least favourable end
    dm, db = np.r_[np.full(90, 0.6), np.full(10, -0.1)], np.r_[np.full(90, 0.5), np.full(10, -0.3)]
    assert B.relative_ci(dm, db) == (-np.inf, np.inf)
    lo, hi = B.relative_ci(np.full(100, 0.6), np.full(100, 0.5))
    assert lo == pytest.approx(0.2) and hi == pytest.approx(0.2)


def test_across_maps_pools_all_tasks_and_each_family():
    rows = []
    for s, (w, r) in enumerate([(0.4, 0.1), (0.5, 0.2), (0.6, 0.3)]):
        rows += [("smax", "3m", "qmix", None, s, w), ("mpe", SPREAD, "qmix", None, s, r)]
        rows += [("smax", "3m", "a-pps", 50, s, w + 0.1), ("mpe", SPREAD, "a-pps", 50, s, r + 0.2)]
    agg = ST.across_maps(_final(rows), "qmix", 0).set_index(["tasks", "method"])
    assert set(agg.index.get_level_values("tasks")) == {"all", scores.WIN_RATE, scores.NORMALISED_RETURN}
    assert agg.loc[("all", "qmix"), "score_kind"] == scores.MIXED
    # pooled IQM of (0.1..0.6) trims one run from each end: mean(0.2, 0.3, 0.4, 0.5)
    assert agg.loc[("all", "qmix"), "iqm"] == pytest.approx(0.35)
    assert agg.loc[(scores.WIN_RATE, "qmix"), "iqm"] == pytest.approx(0.5)
    assert agg.loc[(scores.NORMALISED_RETURN, "a-pps"), "diff"] == pytest.approx(0.2)
    assert agg.loc[(scores.NORMALISED_RETURN, "a-pps"), "maps"] == f"mpe/{SPREAD}"
    # one family only: the "all" rows alone, numbers as before families existed
    smax_only = ST.across_maps(_final([r for r in rows if r[0] == "smax"]), "qmix", 0)
    assert set(smax_only["tasks"]) == {"all"} and set(smax_only["score_kind"]) == {scores.WIN_RATE}


# --------------------------------------------------------------------------- claims
def test_claim1_ceiling_applies_to_win_rates_only():
    base = [np.linspace(0.93, 0.97, 16)]
    pps = [b + 0.02 for b in base]
    assert K.judge_improvement(pps, base, 1, np.random.default_rng(0)).verdict == V.CEILING
    # a normalised return of 0.95 has room above 1 (a method can beat the reference policy)
    r = K.judge_improvement([b * 1.2 for b in base], base, 1, np.random.default_rng(0), bounded=False)
    assert r.verdict == V.SUPPORTED and r.gain == pytest.approx(0.2)


def test_claim1_counts_a_gain_over_a_baseline_below_random_in_units_of_the_floor():
    # normalised returns can be negative: a ratio to them is meaningless, so the gain is
    # taken against the floor, like any baseline that scores about 0
    base, pps = [np.linspace(-0.6, -0.4, 16)], [np.linspace(-0.3, -0.1, 16)]
    r = K.judge_improvement(pps, base, 1, np.random.default_rng(0), bounded=False)
    assert r.gain == pytest.approx(0.3 / V.RULES.floor) and r.verdict in V.SUPPORTING


def _claims(final):
    return claims_markdown(final, baseline="qmix", claims_interval=300, high_dim=K.HIGH_DIM_MAPS, seed=0,
                           final_window="last 3")


def _grid(maps, seeds=10):
    rows = []
    for env, map_ in maps:
        for method, interval in (("qmix", None), ("a-pps", 300), ("rs-pps", 300)):
            base = 0.0 if env == "smax" else 0.3
            vals = base + (0.5 if method != "qmix" else 0.0) + np.linspace(0, 0.05, seeds)
            rows += [(env, map_, method, interval, s, v) for s, v in enumerate(vals)]
    return _final(rows)


def test_claim2_is_not_applicable_on_return_scored_tasks():
    text = _claims(_grid([("mpe", SPREAD), ("mpe", "simple_reference_v3")]))
    summary = text.split("## 1.")[0]
    assert "| 2. \"wins tasks QMIX cannot\" | not applicable: no task of this run has a win condition" in summary
    assert "Score: final score (last 3), that is the normalised score = (R − R_random) / (R_ref − R_random)" in summary
    # mixed: judged on the win-rate maps (QMIX fails 3m, PPS wins it), MPE named as not applicable
    h, rows, (v, why) = claim_wins(_grid([("smax", "3m"), ("mpe", SPREAD)]),
                                   {"qmix": None, "a-pps": 300, "rs-pps": 300}, "qmix")
    assert v == V.SUPPORTED and {r[0] for r in rows} == {"3m"}
    assert f"not applicable on {SPREAD}" in why


def test_mpe_tasks_are_not_high_dimensional():
    assert not set(MAPS["mpe"]) & set(K.HIGH_DIM_MAPS)
    _, _, (v, why) = claim_rs_high_dim(_grid([("mpe", "simple_spread_v3_5ag")]),
                                       {"qmix": None, "a-pps": 300, "rs-pps": 300}, K.HIGH_DIM_MAPS, 0)
    assert v == V.INCONCLUSIVE and "none of its maps is high-dimensional" in why
    # named with --high-dim-maps, an MPE task is judged, on its score
    h, _, (v, _) = claim_rs_high_dim(_grid([("mpe", "simple_spread_v3_5ag")]),
                                     {"qmix": None, "a-pps": 300, "rs-pps": 300}, ("simple_spread_v3_5ag",), 0)
    assert h[1].startswith("mean score, averaged over 1 high-dim map(s)")


# --------------------------------------------------------------------------- tables and figures
def test_tables_name_the_score():
    mixed = _grid([("smax", "3m"), ("mpe", SPREAD)])
    st = ST.cell_stats(mixed, "qmix", 0)
    assert T.stats_caption(st, "QMIX").startswith("Final score (last evaluations of each run)")
    assert "normalised score = (R − R_random) / (R_ref − R_random)" in T.stats_caption(st, "QMIX")
    smax = _grid([("smax", "3m")])
    assert T.stats_caption(ST.cell_stats(smax, "qmix", 0), "QMIX").startswith("Final test win rate")


def test_figures_give_each_family_its_own_panels(mixed_runs):
    import matplotlib.pyplot as plt  # matplotlib and the figures: only the figure tests import them

    from pps.analysis.figures import paper as P
    from pps.analysis.figures.layout import FULL

    curves, final = collect(load_runs(mixed_runs, report=lambda _: None), 3)
    chosen = chosen_cells(final, 300)
    fig = P.learning_curves(learning_curve_bands(curves, chosen, 0), scores.task_kinds(final), chosen, 300, size=FULL)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    by_title = {ax.get_title(): ax for ax in visible}  # map names are unique across these envs: no env prefix
    assert by_title[SPREAD].get_ylabel() == "normalised score (IQM)"
    assert by_title["3m"].get_ylabel() == "test win rate (IQM)"
    assert by_title[SPREAD].get_ylim()[0] < -1.0  # the curve starts at -1: not clipped to [0, 1]
    assert by_title["3m"].get_ylim() == pytest.approx((-0.02, 1.02))
    # one row per family: the two panels are not side by side
    rows = {ax.get_subplotspec().rowspan.start for ax in visible}
    assert len(rows) == 2
    plt.close(fig)
    stats = ST.cell_stats(final, "qmix", 0)
    fig = P.final_performance(final, stats, chosen, 300, size=FULL)
    assert [ax.get_ylabel() for ax in fig.axes] == ["final test win rate", "final normalised score"]
    plt.close(fig)
