"""Agent-count scaling: `pps scaling` recovers a score gain over QMIX planted per
number of agents (with a CI that covers it), finds none where there is none, carries each
cell's cost, and refuses (the workflow does not ask) when the maps span one agent count."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pps.analysis.data import io
from pps.analysis.outputs import figure_files
from pps.analysis.studies.overhead import RUN_COLUMNS, TIMING_OK
from pps.analysis.studies.scaling import COLUMNS, scaling_table, score_column
from pps.cli import main

SEEDS = 10
MAPS = {"3m": 3, "8m": 8, "27m_vs_30m": 27}  # smax maps and their agent counts (pps maps)
PLANTED = {"3m": 0.1, "8m": 0.2, "27m_vs_30m": 0.3}  # a-pps's gain over qmix per map
BASE = 0.3 + 0.05 * np.linspace(-1, 1, SEEDS)  # qmix's final scores on every map


def synthetic_final(score: str = "final_test_win_rate") -> pd.DataFrame:
    """qmix: BASE; a-pps: BASE + the planted gain (so its IQM is exactly qmix's + gain);
    rs-pps: a fresh draw of qmix's distribution (a null)."""
    rng = np.random.default_rng(7)
    rows = []
    for map_ in MAPS:
        cells = {("qmix", None): BASE, ("a-pps", 300): BASE + PLANTED[map_],
                 ("rs-pps", 300): rng.uniform(BASE.min(), BASE.max(), SEEDS)}
        for (method, interval), values in cells.items():
            rows += [{"env": "smax", "map": map_, "method": method, "interval": interval, "seed": s, score: v}
                     for s, v in enumerate(values)]
    df = pd.DataFrame(rows)
    df["interval"] = df["interval"].astype("Int64")
    return df


def synthetic_overhead() -> pd.DataFrame:
    """Costs per run that grow with the agent count: learner ms = 10 x agents (+ seed)."""
    rows = []
    for map_, n in MAPS.items():
        for method, interval in (("qmix", None), ("a-pps", 300), ("rs-pps", 300)):
            for seed in range(3):
                rows.append({"env": "smax", "map": map_, "method": method, "interval": interval, "seed": seed,
                             "n_agents": n, "learner_ms_per_update": 10.0 * n + seed, "steps_per_s": 1000.0 / n,
                             "peak_rss_mb": 500.0 + 10 * n + seed, "h_per_mstep": 0.25 * n, "timing": TIMING_OK})
    df = pd.DataFrame(rows).reindex(columns=list(RUN_COLUMNS))
    df["interval"] = df["interval"].astype("Int64")
    return df


def test_planted_gain_per_agent_count_is_recovered_within_its_ci():
    t = scaling_table(synthetic_final(), synthetic_overhead(), "qmix", seed=0)
    assert tuple(t.columns) == COLUMNS
    a = t[t["method"] == "a-pps"].set_index("map")
    for map_, gain in PLANTED.items():
        r = a.loc[map_]
        assert r["n_agents"] == MAPS[map_] and r["n"] == SEEDS and r["baseline_n"] == SEEDS
        assert r["gain"] == pytest.approx(gain, abs=1e-12)
        assert r["gain_ci_low"] <= gain <= r["gain_ci_high"] and r["gain_ci_low"] > 0
        assert r["rel_gain"] == pytest.approx(gain / r["baseline_iqm"])
    assert list(a.sort_values("n_agents")["gain"].round(9)) == [0.1, 0.2, 0.3]  # grows with the team
    null = t[t["method"] == "rs-pps"]
    assert ((null["gain_ci_low"] <= 0) & (null["gain_ci_high"] >= 0)).all()
    base = t[t["method"] == "qmix"]
    assert base["gain"].isna().all() and base["iqm"].to_numpy() == pytest.approx([BASE.mean()] * 3)


def test_cost_per_cell_is_the_median_over_its_runs():
    t = scaling_table(synthetic_final(), synthetic_overhead(), "qmix", seed=0).set_index(["map", "method"])
    for map_, n in MAPS.items():
        r = t.loc[(map_, "a-pps")]
        assert r["n_cost_runs"] == 3 and r["learner_ms_per_update"] == 10 * n + 1
        assert r["steps_per_s"] == pytest.approx(1000 / n) and r["peak_rss_mb"] == 500 + 10 * n + 1
        assert r["h_per_mstep"] == 0.25 * n


def test_the_table_is_the_same_every_time():
    a = scaling_table(synthetic_final(), synthetic_overhead(), "qmix", seed=3)
    b = scaling_table(synthetic_final(), synthetic_overhead(), "qmix", seed=3)
    pd.testing.assert_frame_equal(a, b)


def test_score_column_is_preferred_over_the_win_rate():
    final = synthetic_final(score="score")
    final["final_test_win_rate"] = 0.0  # a win rate that would show no gain
    assert score_column(final) == "score"
    t = scaling_table(final, synthetic_overhead(), "qmix", seed=0)
    assert set(t["score_column"]) == {"score"}
    assert t.loc[t["method"] == "a-pps", "gain"].round(9).tolist() == [0.1, 0.2, 0.3]


def test_a_cell_without_baseline_or_cost_says_so():
    final = synthetic_final()
    final = final[~((final["map"] == "8m") & (final["method"] == "qmix"))]
    t = scaling_table(final, synthetic_overhead().iloc[0:0], "qmix", seed=0).set_index(["map", "method"])
    assert math.isnan(t.loc[("8m", "a-pps"), "gain"]) and "no qmix runs" in t.loc[("8m", "a-pps"), "note"]
    assert "no cost" in t.loc[("3m", "a-pps"), "note"] and math.isnan(t.loc[("3m", "a-pps"), "peak_rss_mb"])


def write_inputs(folder, maps):
    final = synthetic_final()
    over = synthetic_overhead()
    io.write_csv(folder / "final.csv", final[final["map"].isin(maps)])
    io.write_csv(folder / "overhead.csv", over[over["map"].isin(maps)])


def test_command_writes_the_table_and_figure(tmp_path):
    res, figs = tmp_path / "results", tmp_path / "figures"
    write_inputs(res, list(MAPS))
    assert main(["scaling", "--results", str(res), "--figures", str(figs)]) == 0
    t = pd.read_csv(res / "scaling.csv")
    assert tuple(t.columns) == COLUMNS and len(t) == 9
    assert all((figs / name).stat().st_size > 0 for name in figure_files(("scaling",)))  # both print sizes


def test_command_refuses_one_agent_count_and_writes_nothing(tmp_path, capsys):
    res, figs = tmp_path / "results", tmp_path / "figures"
    write_inputs(res, ["3m"])
    assert main(["scaling", "--results", str(res), "--figures", str(figs)]) == 2
    assert "at least 2 different numbers of agents" in capsys.readouterr().err
    assert not (res / "scaling.csv").exists() and not figs.exists()


def test_workflow_plans_scaling_only_for_maps_with_two_agent_counts(tmp_path):
    from tests.workflow.test_dag import plan  # snakemake: only these two tests plan a DAG

    one = plan(tmp_path, seeds="[0]", methods="[qmix,a-pps]", maps="[3m]")
    assert not any(j.rule == "scaling" for j in one)
    assert not any("scaling" in f for j in one for f in j.output)
    two = plan(tmp_path, seeds="[0]", methods="[qmix,a-pps]", maps="[3m,8m]")
    (job,) = [j for j in two if j.rule == "scaling"]
    assert sorted(job.output) == ["figures/column/scaling.pdf", "figures/column/scaling.png", "figures/scaling.pdf",
                                  "figures/scaling.png", "results/scaling.csv"]
    assert job.shellcmd.startswith("pps scaling --results results --figures figures --baseline qmix")
    # two maps with the same agent count are no scaling study
    same = plan(tmp_path, seeds="[0]", methods="[qmix,a-pps]", maps="[3m,3s_vs_5z]")
    assert not any(j.rule == "scaling" for j in same)
