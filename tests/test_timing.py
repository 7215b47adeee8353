"""Compute-overhead accounting: run.json splits a run's wall-clock into
env stepping, acting, replay, learner, aggregation (RS swap evaluation included),
evaluation and checkpoints, and the named parts cover the measured wall-clock."""

from __future__ import annotations

import json
import time

import pytest

from pps.config import resolve_config
from pps.timing import SECTIONS, SectionTimer
from pps.train import run_training


def test_breakdown_sums_to_the_wall_clock_with_the_rest_as_other():
    timer = SectionTimer()
    with timer.section("learner"):
        time.sleep(0.02)
    timer.add("env", 0.5)
    parts = timer.breakdown(wall_s=1.0)
    assert list(parts) == list(SECTIONS)
    assert parts["env"] == 0.5 and 0.02 <= parts["learner"] < 0.1 and parts["aggregation"] == 0.0
    assert sum(parts.values()) == pytest.approx(1.0, abs=2e-3)


@pytest.mark.slow
def test_a_real_run_accounts_for_its_wall_clock_within_5_percent(tmp_path):
    config = resolve_config({"method": "rs-pps", "interval": 10, "t_max": 1500, "n_envs": 4, "batch_size": 4,
                             "eval_interval": 500, "eval_episodes": 4, "rs_eval_episodes": 2,
                             "checkpoint_interval": 500})
    run_training(config, tmp_path, show_progress=False)
    record = json.loads((tmp_path / "run.json").read_text())
    parts = record["time_s"]
    assert list(parts) == list(SECTIONS)
    named = sum(v for k, v in parts.items() if k != "other")
    assert named == pytest.approx(record["wall_s"], rel=0.05)  # what the sections measured
    assert all(parts[k] > 0 for k in ("env", "acting", "learner", "aggregation", "evaluation", "checkpoint"))
    assert record["learner_ms_per_update"] == pytest.approx(1000 * parts["learner"] / record["updates"], rel=0.01)
    assert record["peak_rss_mb"] > 100
