"""What workflow jobs ask for (pps.resources): memory from pps.memory's model, time from the
budget and the map's agents, both per run of a job and per retry, without Snakemake."""

from __future__ import annotations

import pytest

from pps import memory, resources
from pps.config import RunConfig
from tests.test_plan import PAPER, config


def test_train_memory_is_the_base_plus_the_runs_own_bytes():
    """mem_mb = resources.train.mem_mb + pps.memory's replay, learner batch and checkpoint:
    the episode limit counts (SMAC corridor: 400 steps, ~1 MB per stored episode)."""
    cfg = config(maps="[8m]")
    base = cfg["resources"]["train"]["mem_mb"]
    assert resources.train_mem_mb(cfg, "8m") == base + memory.train_memory_mb(
        "smax", "8m", buffer_size=cfg["run"]["buffer_size"], batch_size=cfg["run"]["batch_size"])
    paper = config(PAPER, use_smac="true")
    corridor = resources.train_mem_mb(paper, "corridor")
    assert corridor == paper["resources"]["train"]["mem_mb"] + memory.train_memory_mb(
        "smac", "corridor", buffer_size=paper["run"]["buffer_size"], batch_size=paper["run"]["batch_size"])
    # 5000 corridor episodes alone are 5 GB; the old per-agent rule asked for 3.8 GB in all
    assert corridor > paper["resources"]["train"]["mem_mb"] + 5000
    assert resources.train_mem_mb(config(maps="[8m]", run="{compact_buffer: false}"), "8m") > \
        resources.train_mem_mb(cfg, "8m")


def test_keys_a_preset_leaves_out_take_the_package_defaults():
    cfg = config()
    assert "rnn_hidden" not in cfg["run"] and resources.run_value(cfg, "rnn_hidden") == RunConfig.rnn_hidden
    assert resources.run_value(cfg, "t_max") == cfg["run"]["t_max"]
    bigger = config(run="{rnn_hidden: 256}")
    assert resources.run_mem_mb(bigger, "3m") > resources.run_mem_mb(cfg, "3m")


def test_runtime_grows_with_the_budget_and_the_agents():
    cfg = config()
    res = cfg["resources"]["train"]
    expected = res["runtime"] + res["runtime_per_mstep"] * cfg["run"]["t_max"] / 1e6 * 3 / 3
    assert resources.run_minutes(cfg, "3m") == pytest.approx(expected)
    assert resources.train_runtime(cfg, "3m") == int(expected)
    assert resources.run_minutes(cfg, "8m") > resources.run_minutes(cfg, "3m")
    longer = config(run="{t_max: 2000000}")
    assert resources.train_runtime(longer, "3m") > resources.train_runtime(cfg, "3m")
    assert resources.train_mem_mb(longer, "3m") == resources.train_mem_mb(cfg, "3m")


def test_a_job_of_several_runs_holds_the_base_once_and_takes_their_time_together():
    cfg = config(maps="[8m]")
    base = cfg["resources"]["train"]["mem_mb"]
    one, three = resources.train_mem_mb(cfg, "8m"), resources.train_mem_mb(cfg, "8m", n_runs=3)
    assert three - base == 3 * (one - base)
    assert resources.train_runtime(cfg, "8m", n_runs=3) == int(3 * resources.run_minutes(cfg, "8m"))


def test_a_retry_asks_for_attempt_times_as_much():
    cfg = config()
    assert resources.train_mem_mb(cfg, "3m", n_runs=2, attempt=3) == 3 * resources.train_mem_mb(cfg, "3m", n_runs=2)
    assert resources.train_runtime(cfg, "3m", attempt=2) == int(2 * resources.run_minutes(cfg, "3m"))


def test_analysis_jobs_threads_and_site_resources():
    cfg = config(resources="{analysis: {mem_mb: 123, runtime: 7, threads: 2}, train: {threads: 3}}")
    assert resources.analysis(cfg) == {"mem_mb": 123, "runtime": 7}
    assert resources.threads(cfg, "analysis") == 2 and resources.threads(cfg, "train") == 3
    assert resources.site(cfg) == {}
    site = config(resources="{slurm: {slurm_partition: short, slurm_account: proj, slurm_extra: ''}}")
    assert resources.site(site) == {"slurm_partition": "short", "slurm_account": "proj"}
