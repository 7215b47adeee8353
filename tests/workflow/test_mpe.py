"""The MPE preset and presets that mix task families: what they plan, and a mixed
SMAX + MPE grid run end to end on a tiny budget."""

from __future__ import annotations

import subprocess
import time

import pandas as pd
import pytest
import yaml

from tests.helpers import REPO
from tests.workflow.test_dag import expected_runs, plan, train_runs

MPE = REPO / "workflow" / "config" / "mpe.yaml"
PAPER = REPO / "workflow" / "config" / "paper.yaml"
MIXED = {"maps": "[3m,simple_spread_v3]", "envs": "{default: smax, simple_spread_v3: mpe}"}


def test_mpe_preset_plans_every_method_on_three_tasks(tmp_path):
    from pps.methods import METHODS

    cfg = yaml.safe_load(MPE.read_text())
    assert cfg["envs"] == {"default": "mpe"} and len(cfg["maps"]) == 3
    assert set(cfg["methods"]) == set(METHODS) and cfg["intervals"] == [50, 300] and len(cfg["seeds"]) == 5
    jobs = plan(tmp_path, configfile=MPE)
    assert sum(train_runs(jobs).values()) == expected_runs(3, 5, cfg["methods"], 2) == 135
    assert "135 training runs" in MPE.read_text()
    files = {f for j in jobs for f in j.output if f.endswith("metrics.csv")}
    assert {f.split("/runs/")[1].split("/")[1] for f in files} == set(cfg["maps"])  # <results>/runs/<env>/<map>/...
    assert all(f.startswith(f"{cfg['results_dir']}/runs/mpe/") for f in files)
    t_max = cfg["run"]["t_max"]
    assert all(f"--set t_max={t_max} " in j.shellcmd for j in jobs if j.rule.startswith("train"))


def test_paper_preset_gains_no_mpe_task(tmp_path):
    cfg = yaml.safe_load(PAPER.read_text())
    assert "mpe" not in cfg["envs"].values()
    jobs = plan(tmp_path, configfile=PAPER, use_smac="false")
    assert not any("/mpe/" in f for j in jobs for f in j.output)


def test_a_preset_can_mix_smax_and_mpe_maps(tmp_path):
    jobs = plan(tmp_path, seeds="[0]", methods="[qmix,a-pps]", intervals="[50]", **MIXED)
    files = sorted(f for j in jobs for f in j.output if f.endswith("metrics.csv"))
    assert files == [
        "results/runs/mpe/simple_spread_v3/a-pps/50/seed0/metrics.csv",
        "results/runs/mpe/simple_spread_v3/qmix/-/seed0/metrics.csv",
        "results/runs/smax/3m/a-pps/50/seed0/metrics.csv",
        "results/runs/smax/3m/qmix/-/seed0/metrics.csv",
    ]
    mpe = [j.shellcmd for j in jobs if j.rule.startswith("train") and "simple_spread_v3" in j.shellcmd]
    assert all("pps train --env mpe --map simple_spread_v3" in c for c in mpe)
    # the mixing example in mpe.yaml's header
    jobs = plan(tmp_path, configfile=MPE, maps="[3m,simple_spread_v3]", envs="{default: mpe, 3m: smax}")
    envs = {f.split("/runs/")[1].split("/")[0] + "/" + f.split("/runs/")[1].split("/")[1]
            for j in jobs for f in j.output if f.endswith("metrics.csv")}
    assert envs == {"smax/3m", "mpe/simple_spread_v3"}


TINY = "run={t_max: 300, eval_interval: 150, eval_episodes: 2, batch_size: 2, n_envs: 2, checkpoint_interval: 300}"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_mixed_smax_and_mpe_grid_runs_end_to_end(tmp_path):
    start = time.monotonic()
    done = subprocess.run(
        ["snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--cores", "2", "all", "--config",
         *(f"{k}={v}" for k, v in MIXED.items()), "seeds=[0]", "methods=[qmix,a-pps]", "intervals=[50]", TINY],
        capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    elapsed = time.monotonic() - start
    results = tmp_path / "results"
    final = pd.read_csv(results / "final.csv")
    kinds = dict(zip(final["env"], final["score_kind"]))
    assert kinds == {"smax": "win_rate", "mpe": "normalised_return"} and len(final) == 4
    mpe = final[final["env"] == "mpe"]
    assert mpe["final_test_win_rate"].isna().all() and mpe["final_test_return_mean"].notna().all()
    assert mpe["r_ref"].notna().all() and mpe["final_score"].notna().all()
    curves = pd.read_csv(results / "curves.csv")
    assert set(curves.loc[curves["metric"] == "score", "env"]) == {"smax", "mpe"}
    claims = (results / "tables" / "claims.md").read_text()
    assert "not applicable on simple_spread_v3" in claims
    across_maps = pd.read_csv(results / "across_maps.csv")
    assert set(across_maps["tasks"]) == {"all", "win_rate", "normalised_return"}
    for name in ("learning_curves.png", "final_performance.png", "across_maps.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 1000
    print(f"mixed SMAX + MPE workflow: {elapsed:.0f} s")
