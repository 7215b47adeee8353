"""The study presets plan exactly the grids their headers describe and run end to
end on a tiny budget."""

from __future__ import annotations

import subprocess

import pandas as pd
import pytest
import yaml

from tests.helpers import REPO
from tests.workflow.test_dag import expected_runs, plan, train_runs

CLAIMS = REPO / "workflow" / "config" / "claims.yaml"
SCALING = REPO / "workflow" / "config" / "scaling.yaml"


def test_claims_preset_plans_150_runs_on_three_paper_maps(tmp_path):
    cfg = yaml.safe_load(CLAIMS.read_text())
    assert cfg["maps"] == ["8m", "2s3z", "3s_vs_5z"] and cfg["intervals"] == [300]
    assert cfg["seeds"] == list(range(10)) and cfg["run"]["groups"] == "all"
    assert set(cfg["methods"]) == {"qmix", "qmix-ns", "a-pps", "rs-pps", "pp-pps"}
    jobs = plan(tmp_path, configfile=CLAIMS)
    assert train_runs(jobs) == {"train": 3 * 10 * 2, "train_pps": 3 * 10 * 3}
    assert sum(train_runs(jobs).values()) == expected_runs(3, 10, cfg["methods"], 1) == 150
    assert "150 training runs of 1M env steps" in CLAIMS.read_text()
    commands = [j.shellcmd for j in jobs if j.rule.startswith("train")]
    assert all("--set t_max=1000000" in c and "--set groups=all" in c for c in commands)


def test_scaling_preset_plans_seven_agent_counts(tmp_path):
    from pps.envs.registry import map_spec

    cfg = yaml.safe_load(SCALING.read_text())
    agents = sorted(map_spec("smax", m).n_agents for m in cfg["maps"])
    assert agents == [3, 5, 8, 10, 20, 25, 27]
    jobs = plan(tmp_path, configfile=SCALING)
    assert sum(train_runs(jobs).values()) == expected_runs(7, 5, cfg["methods"], 1) == 175
    assert "= 7 x 5 x 5 = 175 training runs of 500k env steps" in SCALING.read_text()


TINY = "run={t_max: 300, eval_interval: 150, eval_episodes: 2, batch_size: 2, n_envs: 2, rs_eval_episodes: 1}"


@pytest.mark.slow
@pytest.mark.timeout(600)
# The claims preset's grid (SMAX, the compared methods at K = 300, groups: all) runs end to end
# in tests/workflow/test_evidence_presets.py through evidence-smax.yaml, which differs from it
# in budget keys and maps only; its plan is checked above.
@pytest.mark.parametrize("preset, narrow", [
    (SCALING, ["maps=[3m,8m]", "seeds=[0]", "methods=[qmix,rs-pps]"]),
])
def test_study_preset_runs_end_to_end_on_a_tiny_budget(tmp_path, preset, narrow):
    cfg = yaml.safe_load(preset.read_text())
    done = subprocess.run(
        ["snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--cores", "2", "all",
         "--configfile", str(preset), "--config", *narrow, TINY],
        capture_output=True, text=True, timeout=580)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = tmp_path / cfg["results_dir"]
    assert (results / "final.csv").is_file() and (results / "stats.csv").is_file()
    overhead = pd.read_csv(results / "overhead.csv")
    assert len(overhead) == 2 * len(narrow[0].split(",")) and (overhead["timing"] == "ok").all()
    figures = tmp_path / cfg["figures_dir"]
    assert (figures / "overhead.png").is_file()
    if preset == SCALING:  # two agent counts (3m, 8m): the scaling table and figure too
        assert (results / "scaling.csv").is_file() and (figures / "scaling.png").is_file()
