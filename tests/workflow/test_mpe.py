"""The MPE preset and presets that mix task families: what they plan (a mixed grid run end to
end: tests/workflow/test_e2e.py)."""

from __future__ import annotations

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


# A mixed SMAX + MPE grid end to end (training, the tables of both score kinds, the figures):
# tests/workflow/test_e2e.py, whose killed-and-resumed workflow runs on such a grid.
