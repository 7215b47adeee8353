"""Per-run costs in run groups: run.json keeps the group's totals (`group_cost`) apart from each
run's share (top level), and `pps overhead` / `pps scaling` report one run's cost whatever
`seeds_per_job` was, also from run.json files written before the split."""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest

from pps.analysis.studies.overhead import RUN_COLUMNS, SUMMARY_COLUMNS
from pps.analysis.studies.scaling import COST_COLUMNS
from pps.cli import main
from pps.config import resolve_config
from pps.run_cost import COST_UNIT, CostShares, hours_per_mstep, per_run_cost
from pps.run_folder import default_out_dir
from pps.timing import SECTIONS
from pps.train import run_group
from tests.helpers import REPO
from tests.helpers.synthetic_runs import write_run

MPE = {"env": "mpe", "map": "simple_spread_v3", "method": "qmix", "t_max": 500, "eval_interval": 250,
       "eval_episodes": 4, "batch_size": 4, "n_envs": 4, "buffer_size": 100, "target_update_interval": 20,
       "epsilon_anneal_steps": 500, "checkpoint_interval": 10_000}


def test_shares_split_the_groups_growth_among_the_runs_still_training_and_add_up():
    shares = CostShares(3)
    shares.advance(30.0, {"learner": 12.0, "env": 6.0}, active=[0, 1, 2])
    assert [shares.state(i)["wall_s"] for i in range(3)] == [10.0, 10.0, 10.0]
    shares.advance(36.0, {"learner": 14.0, "env": 9.0}, active=[1, 2])  # run 0 finished
    got = [shares.state(i) for i in range(3)]
    assert [g["wall_s"] for g in got] == [10.0, 13.0, 13.0]
    assert [g["time_s"]["learner"] for g in got] == [4.0, 5.0, 5.0]
    assert sum(g["wall_s"] for g in got) == 36.0 and sum(g["time_s"]["env"] for g in got) == 9.0
    # a checkpointed share comes back as it was; one from an older checkpoint is charged totals / R
    resumed = CostShares(2, 36.0, {"learner": 14.0}, carried=[got[1], None])
    assert resumed.state(0) == got[1] and resumed.state(1) == {"wall_s": 18.0, "time_s": {"learner": 7.0}}


@pytest.mark.slow
def test_a_group_of_5_records_its_totals_and_each_runs_share_and_overhead_reports_the_share(tmp_path):
    root = tmp_path / "runs"
    configs = [resolve_config(MPE, {}, {"seed": s}) for s in range(5)]
    dirs = [default_out_dir(c, root) for c in configs]
    assert run_group(configs, dirs, show_progress=False) == ["finished"] * 5
    records = [json.loads((d / "run.json").read_text()) for d in dirs]
    last = records[-1]["group_cost"]  # all five finish in one pass: the group's totals at its end
    for r in records:
        g = r["group_cost"]
        assert g["runs"] == 5 and g["t_env"] == 5 * r["t_env"]
        assert r["learner_ms_per_update"] == pytest.approx(g["learner_ms_per_update"] / 5, abs=2e-3)
        assert r["peak_rss_mb"] == pytest.approx(g["peak_rss_mb"] / 5, abs=0.06)
        assert r["steps_per_s"] == pytest.approx(r["t_env"] / r["wall_s"], rel=5e-3)  # wall_s is rounded to ms
        assert g["steps_per_s"] == pytest.approx(g["t_env"] / g["wall_s"], rel=5e-3)
        assert set(r["time_s"]) == set(SECTIONS)
        assert sum(r["time_s"].values()) == pytest.approx(r["wall_s"], rel=0.05)
        assert r["wall_s"] < 0.5 * g["wall_s"]  # a share, not the group's wall-clock
    # the shares of the group's runs add up to its totals
    assert sum(r["wall_s"] for r in records) == pytest.approx(last["wall_s"], abs=0.01)
    assert sum(r["time_s"]["learner"] for r in records) == pytest.approx(last["time_s"]["learner"], abs=0.01)

    out = tmp_path / "results"
    assert main(["overhead", "--runs", str(root), "--out", str(out), "--figures", str(tmp_path / "fig")]) == 0
    table = pd.read_csv(out / "overhead.csv").sort_values("seed").reset_index(drop=True)
    assert (table["group_size"] == 5).all()
    for r, row in zip(records, table.itertuples()):
        assert row.wall_s == pytest.approx(r["wall_s"]) and row.steps_per_s == pytest.approx(r["steps_per_s"], rel=5e-3)
        assert row.learner_ms_per_update == pytest.approx(r["learner_ms_per_update"])
        assert row.peak_rss_mb == pytest.approx(r["peak_rss_mb"])
        assert row.timing == "ok"


LEGACY_GROUP = dict(wall_s=500.0, t_env=50_000, updates=1000, learner_ms_per_update=40.0, peak_rss_mb=2000.0,
                    steps_per_s=100.0, time_s=dict(zip(SECTIONS, (200, 50, 25, 150, 25, 40, 5, 5))),
                    group={"seeds": [0, 1, 2, 3, 4], "size": 5}, threads=1)


def test_run_json_from_before_the_split_is_divided_by_its_group_size():
    cost = per_run_cost(LEGACY_GROUP)
    assert cost["group_size"] == 5 and cost["wall_s"] == 100.0 and cost["learner_ms_per_update"] == 8.0
    assert cost["peak_rss_mb"] == 400.0 and cost["time_s"]["env"] == 40.0
    alone = per_run_cost(dict(LEGACY_GROUP, group={"seeds": [0], "size": 1}))
    assert alone["wall_s"] == 500.0 and alone["group_size"] == 1
    new = per_run_cost(dict(LEGACY_GROUP, group_cost={"runs": 5, "wall_s": 2500.0}))  # already a share
    assert new["wall_s"] == 500.0 and new["group_size"] == 5


def test_overhead_and_scaling_report_per_run_cost_whatever_seeds_per_job_was(tmp_path):
    """Older grouped runs (group totals at top level) next to runs alone that cost the same per run."""
    root = tmp_path / "runs"
    for map_ in ("3m", "8m"):
        for method, interval in (("qmix", None), ("a-pps", 50)):
            for seed in range(5):  # one job of 5 seeds
                write_run(root, map_=map_, method=method, interval=interval, seed=seed, t_max=50_000,
                          json_overrides=dict(LEGACY_GROUP, group={"seeds": list(range(5)), "size": 5}))
            for seed in range(5, 8):  # runs alone, with exactly one fifth of that cost
                alone = dict(LEGACY_GROUP, wall_s=100.0, learner_ms_per_update=8.0, peak_rss_mb=400.0,
                             steps_per_s=500.0, time_s={k: v / 5 for k, v in LEGACY_GROUP["time_s"].items()},
                             group={"seeds": [seed], "size": 1})
                write_run(root, map_=map_, method=method, interval=interval, seed=seed, t_max=50_000,
                          json_overrides=alone)
    res, figs = tmp_path / "results", tmp_path / "figures"
    assert main(["aggregate", "--runs", str(root), "--out", str(res)]) == 0
    assert main(["overhead", "--runs", str(root), "--out", str(res), "--figures", str(figs)]) == 0
    assert main(["scaling", "--results", str(res), "--figures", str(figs)]) == 0
    runs = pd.read_csv(res / "overhead.csv")
    assert sorted(set(runs["group_size"])) == [1, 5]
    for column, value in (("wall_s", 100.0), ("steps_per_s", 500.0), ("learner_ms_per_update", 8.0),
                          ("peak_rss_mb", 400.0), ("time_env_s", 40.0)):
        assert runs[column].to_numpy() == pytest.approx(value), column
    final = pd.read_csv(res / "final.csv")
    assert final["wall_s"].to_numpy() == pytest.approx(100.0)
    scaling = pd.read_csv(res / "scaling.csv")
    assert scaling["learner_ms_per_update"].to_numpy() == pytest.approx(8.0)
    assert scaling["steps_per_s"].to_numpy() == pytest.approx(500.0)
    assert scaling["peak_rss_mb"].to_numpy() == pytest.approx(400.0)
    summary = pd.read_csv(res / "overhead_summary.csv")
    assert not math.isnan(summary.loc[summary["method"] == "a-pps", "ratio_vs_baseline"].iloc[0])


def test_one_cost_unit_in_every_table_figure_and_document():
    """Cost per step is hours per million env steps everywhere (it was seconds in one place,
    minutes in another and hours in a third)."""
    assert COST_UNIT == "hours per million env steps" and hours_per_mstep(1800.0, 500_000) == 1.0
    assert math.isnan(hours_per_mstep(10.0, 0))
    per_step = [c for c in (*RUN_COLUMNS, *SUMMARY_COLUMNS, *COST_COLUMNS) if "per_mstep" in c]
    assert per_step and all(c.endswith("h_per_mstep") for c in per_step)
    other_units = re.compile(r"\b(seconds|secs?|s|minutes|mins?|CPU-seconds)\s+(per|/)\s+(1M|million)", re.I)
    texts = [*(REPO / "workflow" / "report" / "captions").rglob("*.rst"), *(REPO / "docs").glob("*.md"),
             REPO / "README.md", REPO / "figures" / "README.md", REPO / "results" / "README.md"]
    for path in texts:
        text = " ".join(path.read_text().split())
        found = [m.group(0) for m in other_units.finditer(text)]
        allowed = ["minutes per 1M"] if path.name == "performance.md" else []  # the dated figure's axis, explained
        assert [f for f in found if f not in allowed] == [], path.relative_to(REPO)
