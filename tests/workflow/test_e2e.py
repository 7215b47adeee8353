"""The workflow end to end with the real `pps`: a slice of the grid, killed and resumed.

A baseline and a PPS method on a grid that mixes the task families (SMAX 3m, scored by win
rate, and MPE simple_spread_v3, by normalised return) with a few hundred steps each: Ctrl-C
while they train, the same command again (the interrupted runs resume from their
checkpoints), then collect -> stats -> plot, a no-op rerun and the HTML report. About a
minute on 2 cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from pps import plan
from pps.analysis import outputs
from tests.helpers import REPO

RUNS = ["results/runs/smax/3m/qmix/-/seed0", "results/runs/smax/3m/a-pps/50/seed0",
        "results/runs/mpe/simple_spread_v3/qmix/-/seed0", "results/runs/mpe/simple_spread_v3/a-pps/50/seed0"]
CONFIG = [
    "--config", "maps=[3m,simple_spread_v3]", "envs={default: smax, simple_spread_v3: mpe}", "seeds=[0]",
    "methods=[qmix,a-pps]", "intervals=[50]",
    "run={t_max: 1200, eval_interval: 300, eval_episodes: 2, batch_size: 4, n_envs: 2, checkpoint_interval: 300}",
]


def default_sigint() -> None:
    """Ctrl-C must reach the workflow even when the test suite itself was started as a
    background job (`cmd &` in a script), which makes it and its children ignore SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def snakemake(work: Path, *args: str) -> list[str]:
    return ["snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work), *args, *CONFIG]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_workflow_end_to_end_with_kill_and_resume(tmp_path):
    work = tmp_path / "work"
    proc = subprocess.Popen(snakemake(work, "--cores", "2", "all"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=default_sigint)
    deadline = time.monotonic() + 240
    while not any((work / r / "checkpoint.pt").exists() for r in RUNS):
        assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
    proc.wait(timeout=120)
    interrupted = [r for r in RUNS if (work / r / "checkpoint.pt").exists()]
    assert interrupted and not any((work / r / "metrics.csv").exists() for r in interrupted)

    done = subprocess.run(snakemake(work, "--cores", "2", "all"), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    for run in interrupted:
        record = json.loads((work / run / "run.json").read_text())
        assert record["status"] == "finished" and record["resumed"] >= 1, record
    for run in RUNS:
        assert len((work / run / "metrics.csv").read_text().splitlines()) >= 1 + 1200 // 300
    for name in (*outputs.COLLECT_FILES, *outputs.STATS_FILES):
        assert (work / "results" / name).is_file(), name
    exported = json.loads((work / "results" / outputs.EXPORT_FILES["marl-eval"]).read_text())
    assert set(exported["smax"]["3m"]) == {"qmix", "a-pps_k50"}  # every run, with its per-episode values
    assert len(exported["smax"]["3m"]["qmix"]["run_0"]["absolute_metrics"]["win_rate"]) == 20
    for name in outputs.figure_files():
        assert (work / "figures" / name).stat().st_size > 0, name
    _each_family_scored_its_own_way(work / "results")

    again = subprocess.run(snakemake(work, "--cores", "2", "all"), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr

    report = subprocess.run(snakemake(work, "--report", "report.html"), capture_output=True, text=True,
                            timeout=120)
    assert report.returncode == 0, report.stderr[-4000:]
    html = (work / "report.html").read_text(errors="replace")
    assert plan.figure_captions()["learning_curves"][:40] in html


def _each_family_scored_its_own_way(results: Path) -> None:
    """SMAX cells by win rate, MPE cells by normalised return, in every table down the line."""
    final = pd.read_csv(results / "final.csv")
    assert dict(zip(final["env"], final["score_kind"])) == {"smax": "win_rate", "mpe": "normalised_return"}
    assert len(final) == 4
    mpe = final[final["env"] == "mpe"]
    assert mpe["final_test_win_rate"].isna().all() and mpe["final_test_return_mean"].notna().all()
    assert mpe["r_ref"].notna().all() and mpe["final_score"].notna().all()
    curves = pd.read_csv(results / "curves.csv")
    assert set(curves.loc[curves["metric"] == "score", "env"]) == {"smax", "mpe"}
    assert "not applicable on simple_spread_v3" in (results / "tables" / "claims.md").read_text()
    assert set(pd.read_csv(results / "across_maps.csv")["tasks"]) == {"all", "win_rate", "normalised_return"}


GROUP = "results/runs/smax/3m/a-pps/50"
GROUP_CONFIG = [
    "--config", "seeds=[0,1]", "methods=[a-pps]", "baseline=a-pps", "intervals=[50]", "seeds_per_job=2",
    "run={t_max: 300, eval_interval: 150, eval_episodes: 2, batch_size: 2, n_envs: 2, checkpoint_interval: 300}",
]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_job_of_several_seeds_writes_every_runs_files(tmp_path):
    """seeds_per_job 2: one job, one `pps train --seeds 0 1` process, both runs complete."""
    command = ["snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--cores", "1", "-p", "runs",
               *GROUP_CONFIG]
    done = subprocess.run(command, capture_output=True, text=True, timeout=280)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "--seeds 0 1 --out results/runs/smax/3m/a-pps/50 " in out and "1 of 2 steps" in out  # + `runs`
    logs = tmp_path / "results" / "logs" / "train" / "smax" / "3m" / "a-pps" / "50"
    assert (logs / "seeds0-1.log").is_file() and (logs / "seeds0-1.benchmark.tsv").is_file()
    for seed in (0, 1):
        run = tmp_path / GROUP / f"seed{seed}"
        record = json.loads((run / "run.json").read_text())
        assert record["status"] == "finished" and record["seed"] == seed, record
        assert record["group"] == {"seeds": [0, 1], "size": 2}
        assert len((run / "metrics.csv").read_text().splitlines()) == 1 + 1 + 300 // 150
        assert (run / "model.pt").is_file() and not (run / "checkpoint.pt").exists()

    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
