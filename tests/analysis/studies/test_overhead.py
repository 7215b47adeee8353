"""Compute-overhead tables: `pps overhead` turns each run's run.json accounting into
`overhead.csv` (one row per run), `overhead_summary.csv` (medians, ratio and extra cost against
QMIX) and figures/overhead.*, on hand-made runs whose numbers are known exactly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pps.analysis.data.runs import load_runs
from pps.analysis.outputs import OVERHEAD_FIGURE, OVERHEAD_FILES, figure_files
from pps.analysis.studies.overhead import (
    PARTS_TOLERANCE,
    RUN_COLUMNS,
    SUMMARY_COLUMNS,
    TIMING_MISMATCH,
    TIMING_OK,
    TIMING_UNTIMED,
    check_parts,
    overhead_runs,
    summarise,
)
from pps.cli import main
from pps.timing import SECTIONS
from tests.helpers.synthetic_runs import write_run

H = 3600.0  # seconds per hour: costs per step are hours per million env steps (pps.run_cost.COST_UNIT)

def parts(env, acting, replay, learner, aggregation, evaluation, checkpoint, other) -> dict[str, float]:
    return dict(zip(SECTIONS, (env, acting, replay, learner, aggregation, evaluation, checkpoint, other)))


# (method, interval, seed) -> run.json fields the accounting reads; wall_s and t_env known exactly
TIMED = {
    ("qmix", None, 0): dict(wall_s=100.0, time_s=parts(40, 10, 5, 30, 0, 10, 2, 3), updates=1000,
                            learner_ms_per_update=30.0, peak_rss_mb=500.0, aggregations=0, swap_eval_env_steps=0),
    ("qmix", None, 1): dict(wall_s=120.0, time_s=parts(48, 12, 6, 36, 0, 12, 2.5, 3.5), updates=1000,
                            learner_ms_per_update=36.0, peak_rss_mb=520.0, aggregations=0, swap_eval_env_steps=0),
    ("a-pps", 50, 0): dict(wall_s=150.0, time_s=parts(40, 10, 5, 60, 20, 10, 2, 3), updates=1000,
                           learner_ms_per_update=60.0, peak_rss_mb=800.0, aggregations=20, swap_eval_env_steps=0),
    ("a-pps", 50, 1): dict(wall_s=170.0, time_s=parts(40, 10, 5, 70, 30, 10, 2, 3), updates=1000,
                           learner_ms_per_update=70.0, peak_rss_mb=900.0, aggregations=20, swap_eval_env_steps=0),
    # its sections sum to 130 s against a wall-clock of 100 s: the accounting is broken
    ("rs-pps", 50, 0): dict(wall_s=100.0, time_s=parts(40, 10, 5, 30, 30, 10, 2, 3), updates=1000,
                            learner_ms_per_update=30.0, peak_rss_mb=700.0, aggregations=20, swap_eval_env_steps=12000),
}


def make_tree(root):
    for (method, interval, seed), fields in TIMED.items():
        write_run(root, method=method, interval=interval, seed=seed, t_max=50_000,
                  json_overrides=dict(fields, t_env=50_000, threads=1))
    # a run from before the accounting: run.json has wall_s only (100000 steps x 1e-3 s = 100 s);
    # steps, updates and aggregations come from metrics.csv's last row (2000 updates, 2000 // 50)
    write_run(root, method="pp-pps", interval=50, seed=0, t_max=100_000, json_overrides=dict(threads=1))


def expected_runs() -> pd.DataFrame:
    rows = []
    for (method, interval, seed), f in TIMED.items():
        total = sum(f["time_s"].values())
        rows.append({
            "env": "smax", "map": "3m", "method": method, "interval": interval, "seed": seed, "n_agents": 3,
            "device": "cpu", "threads": 1, "n_envs": 1, "group_size": 1, "wall_s": f["wall_s"], "steps": 50_000,
            "steps_per_s": 50_000 / f["wall_s"], "h_per_mstep": f["wall_s"] / 50_000 * 1e6 / H,
            **{f"time_{s}_s": v for s, v in f["time_s"].items()},
            "parts_sum_s": total, "parts_rel_err": total / f["wall_s"] - 1,
            "timing": TIMING_OK if method != "rs-pps" else TIMING_MISMATCH,
            "updates": f["updates"], "learner_ms_per_update": f["learner_ms_per_update"],
            "peak_rss_mb": f["peak_rss_mb"], "aggregations": f["aggregations"],
            "swap_eval_env_steps": f["swap_eval_env_steps"],
            "run_dir": f"smax/3m/{method}/{'-' if interval is None else interval}/seed{seed}",
        })
    rows.append({
        "env": "smax", "map": "3m", "method": "pp-pps", "interval": 50, "seed": 0, "n_agents": 3, "device": "cpu",
        "threads": 1, "n_envs": 1, "group_size": 1, "wall_s": 100.0, "steps": 100_000, "steps_per_s": 1000.0,
        "h_per_mstep": 1000.0 / H,
        **{f"time_{s}_s": np.nan for s in SECTIONS}, "parts_sum_s": np.nan, "parts_rel_err": np.nan,
        "timing": TIMING_UNTIMED, "updates": 2000, "learner_ms_per_update": np.nan, "peak_rss_mb": np.nan,
        "aggregations": 40, "swap_eval_env_steps": np.nan, "run_dir": "smax/3m/pp-pps/50/seed0",
    })
    order = {"qmix": 0, "a-pps": 1, "rs-pps": 2, "pp-pps": 3}  # pps.methods order
    df = pd.DataFrame(rows).reindex(columns=list(RUN_COLUMNS))
    by_method = df.sort_values(["method", "seed"], key=lambda c: c.map(order) if c.name == "method" else c)
    return by_method.reset_index(drop=True)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "runs"
    make_tree(root)
    return root


def test_overhead_csv_holds_each_runs_accounting_exactly(tree, tmp_path, capsys):
    out, figs = tmp_path / "results", tmp_path / "figures"
    assert main(["overhead", "--runs", str(tree), "--out", str(out), "--figures", str(figs)]) == 0
    err = capsys.readouterr().err
    for name in OVERHEAD_FILES:
        assert (out / name).is_file()
    for name in figure_files((OVERHEAD_FIGURE,)):  # full width and one column
        assert (figs / name).stat().st_size > 0
    got = pd.read_csv(out / "overhead.csv")
    assert tuple(got.columns) == RUN_COLUMNS
    pd.testing.assert_frame_equal(got, expected_runs(), check_dtype=False, rtol=1e-9, atol=1e-12)
    # the parts add up to the measured wall-clock within 5% exactly where the run is 'ok'
    ok = got["timing"] == TIMING_OK
    sums = got[list(f"time_{s}_s" for s in SECTIONS)].sum(axis=1)
    assert (abs(sums[ok] / got.loc[ok, "wall_s"] - 1) <= PARTS_TOLERANCE).all()
    assert abs(sums[got["method"] == "rs-pps"].iloc[0] / 100 - 1) == pytest.approx(0.3)
    # the broken run is named in the log, and so is the older run
    assert "smax/3m/rs-pps/50/seed0: time_s sums to 130 s but wall_s is 100 s (+30.0%" in err
    assert "1 of 6 run(s) have no time_s" in err


def test_summary_gives_medians_ratio_and_extra_cost_per_section(tree):
    runs = overhead_runs(load_runs(tree, report=lambda _: None), runs_root=tree)
    table = summarise(runs, "qmix", seed=0)
    assert tuple(table.columns) == SUMMARY_COLUMNS
    s = table.set_index("method")
    q, a, rs, pp = s.loc["qmix"], s.loc["a-pps"], s.loc["rs-pps"], s.loc["pp-pps"]
    # QMIX: 2000 and 2400 s per 1M steps -> median 2200 s (/ 3600 in hours); learner 600 and 720 -> 660
    assert (q["n_runs"], q["n_timed"]) == (2, 2)
    assert (q["h_per_mstep"], q["learner_h_per_mstep"]) == pytest.approx((2200 / H, 660 / H))
    assert q["wall_s"] == 110 and q["learner_ms_per_update"] == 33 and q["peak_rss_mb"] == 510
    assert q["steps_per_s"] == pytest.approx((500 + 50_000 / 120) / 2)
    assert math.isnan(q["ratio_vs_baseline"]) and q["note"] == ""
    # A-PPS: 3000 and 3400 -> 3200, i.e. x 3200/2200; aggregation 400 and 600 s per 1M steps -> 500
    assert a["h_per_mstep"] == pytest.approx(3200 / H) and a["ratio_vs_baseline"] == pytest.approx(3200 / 2200)
    assert (a["baseline_h_per_mstep"], a["extra_h_per_mstep"]) == pytest.approx((2200 / H, 1000 / H))
    assert (a["aggregation_h_per_mstep"], a["extra_aggregation_h_per_mstep"]) == pytest.approx((500 / H, 500 / H))
    assert (a["learner_h_per_mstep"], a["extra_learner_h_per_mstep"]) == pytest.approx((1300 / H, 640 / H))
    assert a["extra_env_h_per_mstep"] == pytest.approx((800 - 880) / H)  # 800 both seeds vs QMIX's 800 and 960
    assert a["aggregations"] == 20 and a["aggregation_ms_per_event"] == 1250  # 1000 and 1500 ms per event
    assert a["ratio_ci_low"] <= a["ratio_vs_baseline"] <= a["ratio_ci_high"]
    # RS-PPS: its wall-clock counts (one run, no CI), its broken sections do not
    assert rs["n_timed"] == 0 and rs["ratio_vs_baseline"] == pytest.approx(2000 / 2200)
    assert math.isnan(rs["learner_h_per_mstep"]) and math.isnan(rs["ratio_ci_low"])
    assert "sections do not add up" in rs["note"] and "no CI" in rs["note"]
    assert rs["swap_eval_env_steps"] == 12000
    # the older run: 1000 s per 1M steps from wall_s and metrics.csv, no sections
    assert pp["ratio_vs_baseline"] == pytest.approx(1000 / 2200) and math.isnan(pp["aggregation_h_per_mstep"])
    assert "without time_s" in pp["note"] and pp["aggregations"] == 40


@pytest.mark.parametrize("time_s, wall, status", [
    (parts(50, 10, 5, 20, 0, 10, 2, 3), 100.0, TIMING_OK),
    (parts(50, 10, 5, 20, 0, 10, 2, 7.9), 100.0, TIMING_OK),  # 104.9 s: within 5%
    (parts(50, 10, 5, 20, 0, 10, 2, 8.1), 100.0, TIMING_MISMATCH),  # 105.1 s
    (parts(40, 10, 5, 20, 0, 10, 2, 3), 100.0, TIMING_MISMATCH),  # 90 s: a section went missing
    ({k: v for k, v in parts(50, 10, 5, 20, 0, 10, 2, 3).items() if k != "learner"}, 80.0, TIMING_MISMATCH),
    (None, 100.0, TIMING_UNTIMED),
    ({}, 100.0, TIMING_UNTIMED),
])
def test_check_parts_flags_runs_whose_sections_do_not_add_up(time_s, wall, status):
    assert check_parts(time_s, wall)[3] == status


def summary_input(cells: dict[tuple[str, int | None], list[float]], device=None) -> pd.DataFrame:
    """An overhead.csv with the given seconds of wall-clock per run (1M steps each, all 'ok')."""
    rows = []
    for (method, interval), values in cells.items():
        for seed, v in enumerate(values):
            rows.append({"env": "smax", "map": "3m", "method": method, "interval": interval, "seed": seed,
                         "n_agents": 3, "device": (device or {}).get(method, "cpu"), "threads": 1, "n_envs": 8,
                         "wall_s": v, "steps": 1e6, "steps_per_s": 1e6 / v, "h_per_mstep": v / H,
                         **{f"time_{s}_s": v / len(SECTIONS) for s in SECTIONS}, "timing": TIMING_OK})
    df = pd.DataFrame(rows).reindex(columns=list(RUN_COLUMNS))
    df["interval"] = df["interval"].astype("Int64")
    return df


def test_ratio_ci_covers_a_planted_slowdown_and_one_for_a_null():
    base = [1000.0, 1010.0, 990.0, 1005.0, 995.0, 1020.0, 980.0]
    rng = np.random.default_rng(1)
    null = list(rng.choice(base, size=7) + rng.normal(0, 1, 7))
    s = summarise(summary_input({("qmix", None): base, ("a-pps", 50): [2 * v for v in base],
                                 ("pp-pps", 50): null}), "qmix").set_index("method")
    a = s.loc["a-pps"]
    assert a["ratio_vs_baseline"] == pytest.approx(2.0)
    assert a["ratio_ci_low"] <= 2.0 <= a["ratio_ci_high"] and a["ratio_ci_low"] > 1.0
    n = s.loc["pp-pps"]
    assert n["ratio_ci_low"] <= 1.0 <= n["ratio_ci_high"]
    # the same data gives the same table (seeded bootstrap)
    again = summarise(summary_input({("qmix", None): base, ("a-pps", 50): [2 * v for v in base],
                                     ("pp-pps", 50): null}), "qmix")
    pd.testing.assert_frame_equal(again.set_index("method"), s)


def test_summary_says_when_a_ratio_compares_different_hardware():
    s = summarise(summary_input({("qmix", None): [1000.0, 1100.0], ("a-pps", 50): [500.0, 550.0]},
                                device={"a-pps": "cuda"}), "qmix").set_index("method")
    assert "differ from qmix in device" in s.loc["a-pps", "note"]


def test_any_results_tree_gets_its_table_and_figure(tmp_path):
    """Only older runs and no baseline: still a table and a figure, marked as such."""
    root = tmp_path / "runs"
    write_run(root, method="a-pps", interval=300, seed=0)
    out, figs = tmp_path / "results", tmp_path / "figures"
    assert main(["overhead", "--runs", str(root), "--out", str(out), "--figures", str(figs)]) == 0
    s = pd.read_csv(out / "overhead_summary.csv")
    assert s["note"].iloc[0].startswith("1 run(s) without time_s") and "no qmix runs" in s["note"].iloc[0]
    assert all((figs / name).is_file() for name in figure_files((OVERHEAD_FIGURE,)))


def test_workflow_always_plans_the_overhead_outputs(tmp_path):
    from tests.workflow.test_dag import plan  # snakemake: only these two tests plan a DAG

    jobs = plan(tmp_path, seeds="[0]", methods="[qmix,a-pps]")
    (job,) = [j for j in jobs if j.rule == "overhead"]
    assert sorted(job.output) == ["figures/column/overhead.pdf", "figures/column/overhead.png",
                                  "figures/overhead.pdf", "figures/overhead.png",
                                  "results/overhead.csv", "results/overhead_summary.csv"]
    assert job.shellcmd.startswith("pps overhead --runs results/runs --out results --figures figures --baseline qmix")
