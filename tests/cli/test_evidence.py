"""`pps evidence`: the workflow's analysis commands on synthetic runs, packaged from the preset
and checked, through pps.cli.main; the options a set records are the workflow's for every preset."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from pps import plan
from pps.analysis.reference_set import MANIFEST, PlotOptions, StatsOptions
from pps.cli import evidence, main
from pps.cli import plot as plot_cli
from pps.cli import stats as stats_cli
from tests.helpers import REPO
from tests.helpers.synthetic_runs import write_mpe_workflow_runs

PRESETS = sorted((REPO / "workflow" / "config").glob("*.yaml"))


def _parse(command, words: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(words)


@pytest.fixture(scope="module")
def finished_workflow(tmp_path_factory) -> tuple[Path, Path]:
    """(preset, workdir): a preset's runs and every analysis command its rules run, as they run them."""
    root = tmp_path_factory.mktemp("ev")
    preset = root / "tiny.yaml"
    preset.write_text(f"results_dir: {root}/results/tiny\nfigures_dir: {root}/figures/tiny\nenvs: {{default: mpe}}\n"
                      f"maps: [simple_spread_v3]\nmethods: [qmix, rs-pps]\nintervals: [300]\nseeds: [0, 1, 2]\n"
                      f"thresholds: [0.3, 0.5]\nfinal_window: 2\nrun: {{t_max: 20000}}\n")
    cfg = plan.load_preset(preset)
    results, figures = plan.results_dir(cfg), plan.figures_dir(cfg)
    write_mpe_workflow_runs(Path(results) / "runs", maps=("simple_spread_v3",),
                            methods=(("qmix", None), ("rs-pps", 300)))
    assert main(["collect", "--runs", f"{results}/runs", "--out", results, *plan.collect_args(cfg)]) == 0
    assert main(["stats", "--results", results, *plan.stats_args(cfg)]) == 0
    assert main(["plot", "--results", results, "--out", figures, *plan.figure_args(cfg)]) == 0
    return preset, root


def test_pps_evidence_packages_a_workflow_run_and_checks_it(finished_workflow, capsys):
    preset, root = finished_workflow
    out = root / "docs" / "evidence" / "2026-12-05-tiny"
    assert main(["evidence", "--configfile", str(preset), "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"pps evidence: 6 runs, 21 files -> {out}; its 8 tables regenerate")
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["options"]["collect"] == {"final_window": 2}
    assert manifest["options"]["stats"]["thresholds"] == [0.3, 0.5]
    assert main(["evidence", "--check", str(out)]) == 0
    assert capsys.readouterr().out == (f"pps evidence: {out} reproduces: 8 tables byte for byte, 9 figure names, "
                                       f"21 sha256\n")

    spoilt = Path(shutil.copytree(out, root / "spoilt"))
    (spoilt / "claims.md").write_text((spoilt / "claims.md").read_text().replace("|", "!", 1))
    assert main(["evidence", "--check", str(spoilt)]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "pps evidence: claims.md: its sha256 is not the one manifest.json records (the file " \
                         "changed after packaging)"
    assert printed[1].startswith("pps evidence: claims.md: not what `pps stats` makes of final.csv and curves.csv "
                                 "now, line ")
    assert printed[-1].startswith(f"pps evidence: 2 difference(s) in {spoilt} (checked 8 tables byte for byte")

    assert main(["evidence", "--configfile", str(preset), "--out", str(out)]) == 2  # out holds a set
    assert "exists and is not empty" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--check", "SET", "--out", "x", "--force"], "--check takes only the set folder; leave out --out, --force"),
    (["--out", "x"], "making a reference set needs --configfile (e.g. --configfile workflow/config/"),
    (["--configfile", "workflow/config/evidence-mpe.yaml"], "making a reference set needs --out"),
    (["--check", "nowhere"], "nowhere holds no reference set (no manifest.json)"),
    (["--configfile", "nowhere.yaml", "--out", "x"], "cannot read the preset 'nowhere.yaml'"),
])
def test_mistakes_are_one_line_and_exit_code_2(argv, message, capsys):
    assert main(["evidence", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pps evidence: error: ") and message in err and "Traceback" not in err


@pytest.mark.parametrize("preset", PRESETS, ids=lambda path: path.stem)
def test_a_set_records_the_options_the_workflows_jobs_ran_with(preset):
    cfg = plan.load_preset(preset)
    options = evidence.workflow_options(cfg)
    defaults = stats_cli.keywords(_parse(stats_cli, []))
    assert options.final_window == cfg["final_window"]
    assert options.stats.baseline == cfg["baseline"] and options.stats.thresholds == tuple(cfg["thresholds"])
    assert (options.stats.smooth_window, options.stats.seed, options.stats.claims_interval) == (
        defaults["smooth_window"], defaults["seed"], defaults["claims_interval"])
    assert options.plot.annotate == bool(cfg["figures_annotate"])
    # the command lines a manifest prints read back as the same options
    assert StatsOptions(**stats_cli.keywords(_parse(stats_cli, options.stats.argv()))) == options.stats
    assert PlotOptions(**plot_cli.keywords(_parse(plot_cli, options.plot.argv()))) == options.plot


def test_the_evidence_presets_grid_is_every_planned_run():
    cfg = plan.load_preset(REPO / "workflow" / "config" / "evidence-mpe.yaml")
    keys = evidence.grid_keys(cfg, print)
    assert len(keys) == len(set(keys)) == 3 * 10 * 5
    assert ("mpe", "simple_spread_v3", "qmix", None, 0) in keys and ("mpe", "simple_spread_v3", "a-pps", 300, 9) in keys
