"""The evidence presets plan the grids their headers describe (five methods at the authors'
K = 300, 10 seeds, one job per cell) and run end to end with a smaller budget."""

from __future__ import annotations

import subprocess

import pandas as pd
import pytest
import yaml

from tests.helpers import REPO
from tests.workflow.test_dag import plan, train_runs

PRESETS = sorted((REPO / "workflow" / "config").glob("evidence-*.yaml"))
COMPARED = {"qmix", "qmix-ns", "a-pps", "rs-pps", "pp-pps"}


def test_there_are_evidence_presets():
    assert [p.name for p in PRESETS][:1] == ["evidence-mpe.yaml"]


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_evidence_preset_plans_the_compared_methods_at_ten_seeds(tmp_path, preset):
    cfg = yaml.safe_load(preset.read_text())
    assert set(cfg["methods"]) == COMPARED and 300 in cfg["intervals"]
    assert cfg["seeds"] == list(range(10)) and cfg["run"]["t_max"] >= 100_000
    assert cfg["results_dir"] == f"results/{preset.stem}" and cfg["figures_dir"] == f"figures/{preset.stem}"
    jobs = plan(tmp_path, configfile=preset)
    n_maps, n_ivs = len(cfg["maps"]), len(cfg["intervals"])
    runs = n_maps * 10 * (2 + 3 * n_ivs)
    commands = [j.shellcmd for j in jobs if j.rule.startswith("train")]
    assert len(commands) == runs // cfg["seeds_per_job"]  # one job per cell of 10 seeds
    assert sum(train_runs(jobs).values()) == runs
    assert f"= {runs} training runs of {cfg['run']['t_max'] // 1000}k env steps" in preset.read_text()
    assert all(f"--set t_max={cfg['run']['t_max']} " in c for c in commands)


# A smaller budget, every other key of the preset; on its first map, two seeds, QMIX and RS-PPS
# (a job per cell costs a process start-up whatever the budget; RS-PPS is the PPS method with
# the most machinery), up to the tables (claims.md included; the figures are drawn by the
# other end-to-end tests): what CI can afford of the same grid.
SMALL = "run={t_max: 400, eval_interval: 200, eval_episodes: 2, absolute_eval_episodes: 2, rs_eval_episodes: 1}"


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_evidence_preset_runs_to_its_tables_with_a_smaller_t_max(tmp_path, preset):
    cfg = yaml.safe_load(preset.read_text())
    done = subprocess.run(
        ["snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--cores", "2", "tables",
         "--configfile", str(preset), "--config", f"maps=[{cfg['maps'][0]}]", "seeds=[0,1]",
         "methods=[qmix,rs-pps]", SMALL],
        capture_output=True, text=True, timeout=580)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = tmp_path / cfg["results_dir"]
    final = pd.read_csv(results / "final.csv")
    assert len(final) == 4 and set(final["method"]) == {"qmix", "rs-pps"}
    claims = (results / "tables" / "claims.md").read_text()
    assert "| claim | verdict | power at this n |" in claims
