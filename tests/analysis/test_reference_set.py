"""Reference sets (pps.analysis.reference_set): what a set holds, that `check` passes on a fresh
set and names every changed byte, that packaging refuses what is not a finished, one-commit,
up-to-date workflow run and never leaves half a set; and every committed set still reproduces.

The workflow run is synthetic (tests/helpers/synthetic_runs.py): MPE runs, then the workflow's
analysis commands (`commands.collect`, `stats`, `plot`) with the options the set records.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from pps.analysis import commands, reference_set
from pps.analysis.outputs import FIGURE_NAMES
from pps.analysis.reference_set import (
    CHECK_BYTES,
    CHECK_INPUT,
    CHECK_NAME,
    CHECK_SHA,
    MANIFEST,
    RUNS_COLUMNS,
    AnalysisOptions,
    PackageConfig,
    PlotOptions,
    StatsOptions,
    first_difference,
)
from pps.errors import UserError
from tests.helpers import REPO
from tests.helpers.synthetic_runs import write_mpe_workflow_runs, write_run

COMMIT = "0123456789abcdef0123456789abcdef01234567"
MAPS = ("simple_spread_v3", "simple_reference_v3")
SEEDS = (0, 1, 2)
OPTIONS = AnalysisOptions(final_window=3,
                          stats=StatsOptions(baseline="qmix", thresholds=(0.3, 0.5), smooth_window=3, seed=0,
                                             claims_interval=300, high_dim=None),
                          plot=PlotOptions(baseline=None, claims_interval=300, seed=0, annotate=False))
GRID = tuple((("mpe", m, method, k, s) for m in MAPS for method, k in (("qmix", None), ("a-pps", 300))
              for s in SEEDS))
TABLE_NAMES = ("stats.csv", "across_maps.csv", "convergence.csv", "speedup.csv", "stats.md", "convergence.md",
               "claims.md", "across_maps.md")
COMMITTED_SETS = sorted((REPO / "docs" / "evidence").glob(f"*/{MANIFEST}"))


def analyse(results: Path, figures: Path | None = None, options: AnalysisOptions = OPTIONS) -> None:
    """What the workflow's analysis rules run on a results folder."""
    commands.collect(results / "runs", results, final_window=options.final_window)
    commands.stats(results, **vars(options.stats))
    if figures is not None:
        commands.plot(results, figures, **vars(options.plot))


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(results, figures, preset) of a finished synthetic workflow run, with a study figure."""
    root = tmp_path_factory.mktemp("workflow")
    results, figures = root / "results" / "tiny", root / "figures" / "tiny"
    write_mpe_workflow_runs(results / "runs", maps=MAPS, seeds=SEEDS, git_commit=COMMIT)
    analyse(results, figures)
    (figures / "overhead.png").write_bytes(b"\x89PNG a study figure")
    preset = root / "tiny.yaml"
    preset.write_text(f"# the synthetic preset\nresults_dir: {results}\nfigures_dir: {figures}\n"
                      f"envs: {{default: mpe}}\nmaps: [{', '.join(MAPS)}]\nmethods: [qmix, a-pps]\nintervals: [300]\n"
                      f"seeds: [0, 1, 2]\nbaseline: qmix\nthresholds: [0.3, 0.5]\nrun: {{t_max: 20000}}\n")
    return results, figures, preset


def config(workflow_run, out: Path, **changes) -> PackageConfig:
    results, figures, preset = workflow_run
    return replace(PackageConfig(results=results, figures=figures, preset=preset, out=out, options=OPTIONS,
                                 expected_runs=GRID), **changes)


@pytest.fixture(scope="module")
def packaged(workflow_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "evidence" / "2026-12-05-tiny"
    line = reference_set.package(config(workflow_run, out))
    assert line.startswith(f"12 runs, 22 files -> {out}; its 8 tables regenerate byte for byte"), line
    return out


def copied_results(workflow_run, tmp_path: Path) -> Path:
    """A copy of the workflow run's results folder, to spoil."""
    return Path(shutil.copytree(workflow_run[0], tmp_path / "results"))


def spoil_one_byte(path: Path, at: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    at = len(data) // 2 if at is None else at
    data[at] = ord("7") if data[at] != ord("7") else ord("8")
    path.write_bytes(bytes(data))


# --------------------------------------------------------------------------- what a set holds
def test_a_set_holds_the_tables_full_width_pngs_runs_and_preset_only(workflow_run, packaged):
    results, figures, preset = workflow_run
    names = {p.name for p in packaged.iterdir()}
    pngs = {f"{n}.png" for n in FIGURE_NAMES} | {"overhead.png"}
    assert names == {"final.csv", "curves.csv", *TABLE_NAMES, *pngs, "runs.csv", "preset.yaml", MANIFEST}
    assert all(p.is_file() for p in packaged.iterdir())  # no column/ copies, no PDFs, no run folders
    for name, rel in reference_set.TABLES.items():
        assert (packaged / name).read_bytes() == (results / rel).read_bytes(), name
    assert (packaged / "final.csv").read_bytes() == (results / "final.csv").read_bytes()
    assert (packaged / "learning_curves.png").read_bytes() == (figures / "learning_curves.png").read_bytes()
    assert (packaged / "preset.yaml").read_bytes() == preset.read_bytes()
    assert [p.name for p in packaged.parent.iterdir()] == [packaged.name]  # no temporary folder left


def test_runs_csv_has_one_row_per_run_of_run_json_essentials(packaged):
    runs = pd.read_csv(packaged / "runs.csv", dtype={"interval": "Int64", "group_seeds": str})
    assert tuple(runs.columns) == RUNS_COLUMNS
    assert len(runs) == 12
    keys = list(zip(runs["env"], runs["map"], runs["method"], runs["interval"].fillna(-1), runs["seed"]))
    assert keys == sorted(keys)
    assert runs.loc[runs["method"] == "qmix", "interval"].isna().all()
    assert (runs.loc[runs["method"] == "a-pps", "interval"] == 300).all()
    assert (runs["status"] == "finished").all() and (runs["git_commit"] == COMMIT).all()
    assert (runs["t_env"] == 20_000).all() and (runs["episodes"] == 800).all() and (runs["resumed"] == 0).all()
    assert runs["env_steps_per_s"].tolist() == pytest.approx((runs["t_env"] / runs["wall_s"]).tolist(), rel=1e-9)
    assert (runs["group_size"] == 3).all() and (runs["group_seeds"] == "0 1 2").all()
    assert set(runs["host"]) == {"vm"} and set(runs["device"]) == {"cpu"}


def test_the_manifest_records_options_commands_commit_counts_and_every_file(workflow_run, packaged):
    results, figures, preset = workflow_run
    manifest = json.loads((packaged / MANIFEST).read_text())
    assert AnalysisOptions.from_json(manifest["options"]) == OPTIONS
    assert manifest["git_commits"] == {COMMIT: 12}
    assert manifest["counts"] == {"runs": 12, "envs": 1, "maps": 2, "methods": 2, "intervals": 1, "seeds": 3}
    assert manifest["preset"] == {"file": preset.as_posix(), "copy": "preset.yaml"}
    assert manifest["commands"]["stats"] == (f"pps stats --results {results.as_posix()} --baseline qmix --thresholds "
                                             f"0.3 0.5 --smooth-window 3 --bootstrap-seed 0 --claims-interval 300")
    assert manifest["commands"]["collect"].endswith("--final-window 3")
    assert manifest["commands"]["check"] == f"pps evidence --check {packaged.as_posix()}"
    files = manifest["files"]
    assert set(files) == {p.name for p in packaged.iterdir()} - {MANIFEST}
    for name, entry in files.items():
        assert entry["sha256"] == reference_set.sha256(packaged / name), name
    kinds = {name: entry["check"] for name, entry in files.items()}
    assert {n for n, k in kinds.items() if k == CHECK_BYTES} == set(TABLE_NAMES)
    assert {n for n, k in kinds.items() if k == CHECK_INPUT} == {"final.csv", "curves.csv"}
    assert {n for n, k in kinds.items() if k == CHECK_NAME} == {f"{n}.png" for n in FIGURE_NAMES}
    assert {n for n, k in kinds.items() if k == CHECK_SHA} == {"overhead.png", "runs.csv", "preset.yaml"}
    assert files["overhead.png"]["made_by"] == "pps overhead"


def test_options_read_back_as_the_commands_read_them():
    assert StatsOptions(**json.loads(json.dumps(vars(OPTIONS.stats)))) == OPTIONS.stats  # lists become tuples
    assert OPTIONS.plot.argv() == ["--claims-interval", "300", "--bootstrap-seed", "0"]
    with pytest.raises(UserError, match="expected collect.final_window and the keyword arguments of pps stats"):
        AnalysisOptions.from_json({"collect": {"final_window": 3}, "stats": {"baseline": "qmix"}, "plot": {}})


# --------------------------------------------------------------------------- check
def test_check_passes_on_a_fresh_set_and_draws_every_figure_name(packaged):
    result = reference_set.check(packaged)
    assert result.ok, result.differences
    assert sorted(result.compared) == sorted(TABLE_NAMES)
    assert sorted(result.figures) == sorted(f"{n}.png" for n in FIGURE_NAMES)
    assert result.hashed == 22
    assert result.line().startswith(f"{packaged} reproduces: 8 tables byte for byte, 9 figure names, 22 sha256")


@pytest.mark.parametrize("name", ["claims.md", "stats.csv"])
def test_check_fails_on_one_changed_byte_and_names_the_file_and_line(packaged, tmp_path, name):
    copy = Path(shutil.copytree(packaged, tmp_path / "set"))
    spoil_one_byte(copy / name)
    result = reference_set.check(copy, figures=False)
    assert not result.ok
    regenerated = [d for d in result.differences if "not what `pps stats` makes" in d]
    assert len(regenerated) == 1 and regenerated[0].startswith(f"{name}: ") and ", line " in regenerated[0]
    assert f"{name}: its sha256 is not the one manifest.json records (the file changed after packaging)" \
        in result.differences
    assert len(result.differences) == 2


def test_check_names_a_changed_input_a_missing_file_and_a_stray_one(packaged, tmp_path):
    copy = Path(shutil.copytree(packaged, tmp_path / "set"))
    final = pd.read_csv(copy / "final.csv")
    final.loc[0, "final_score"] += 0.5  # a different input regenerates different tables
    final.to_csv(copy / "final.csv", index=False)
    (copy / "convergence.md").unlink()
    (copy / "notes.txt").write_text("by hand\n")
    (copy / "README.md").write_text("# where and when\n")  # the one hand-written file a set may hold
    differences = reference_set.check(copy, figures=False).differences
    assert "final.csv: its sha256 is not the one manifest.json records (the file changed after packaging)" \
        in differences
    assert "convergence.md: missing (manifest.json lists it)" in differences
    assert any(d.startswith("notes.txt: not listed in manifest.json") for d in differences)
    assert any(d.startswith("stats.csv: not what `pps stats` makes") for d in differences)
    assert not any(d.startswith("README.md") for d in differences)


def test_check_refuses_a_folder_without_a_set(tmp_path):
    with pytest.raises(UserError, match="holds no reference set"):
        reference_set.check(tmp_path)


def test_first_difference_says_where():
    assert first_difference(b"a\nb\n", b"a\nb\n") is None
    assert first_difference(b"a\nxyz\n", b"a\nxYz\n") == "line 2: committed 'xyz\\n', regenerated 'xYz\\n'"
    assert first_difference(b"a\n", b"a\nb\nc\n") == ("line 2: the regenerated file goes on (2 more lines), "
                                                      "the committed one ends")
    long = b"x" * 200
    assert first_difference(long + b"1\n", long + b"2\n").startswith("line 1: committed '…xxx")


# --------------------------------------------------------------------------- what packaging refuses
def test_unfinished_or_unstarted_runs_are_counted_and_named(workflow_run, tmp_path):
    results = copied_results(workflow_run, tmp_path)
    write_run(results / "runs", env="mpe", map_="simple_spread_v3", method="qmix", seed=3, status="running",
              partial=True)
    grid = (*GRID, ("mpe", "simple_spread_v3", "qmix", None, 3), ("mpe", "simple_spread_v3", "qmix", None, 4))
    with pytest.raises(UserError) as err:
        reference_set.package(config(workflow_run, tmp_path / "set", results=results, expected_runs=grid))
    text = str(err.value)
    assert "2 of the 14 runs under" in text and "are not finished" in text
    assert "mpe/simple_spread_v3/qmix/-/seed3: run.json status is 'running'" in text
    assert "mpe/simple_spread_v3/qmix/-/seed4: not started (no run folder)" in text
    assert not (tmp_path / "set").exists()


def test_runs_of_two_commits_need_allow_mixed_commits(workflow_run, tmp_path):
    results = copied_results(workflow_run, tmp_path)
    run_json = results / "runs" / "mpe" / "simple_spread_v3" / "a-pps" / "300" / "seed1" / "run.json"
    run_json.write_text(json.dumps(json.loads(run_json.read_text()) | {"git_commit": "f" * 40}))
    analyse(results)  # the tables as the workflow would remake them (final.csv records the commit)
    with pytest.raises(UserError, match=rf"2 git commits: {COMMIT} \(11 runs\), f{{40}} \(1 runs\)"):
        reference_set.package(config(workflow_run, tmp_path / "set", results=results))
    assert not (tmp_path / "set").exists()
    reference_set.package(config(workflow_run, tmp_path / "set", results=results, allow_mixed_commits=True))
    assert json.loads((tmp_path / "set" / MANIFEST).read_text())["git_commits"] == {COMMIT: 11, "f" * 40: 1}


def test_an_out_folder_that_holds_files_needs_force(workflow_run, tmp_path):
    out = tmp_path / "set"
    out.mkdir()
    reference_set.package(config(workflow_run, out))  # an empty folder is taken
    with pytest.raises(UserError, match="exists and is not empty .* pass --force to replace"):
        reference_set.package(config(workflow_run, out))
    (out / "claims.md").write_text("old\n")
    reference_set.package(config(workflow_run, out, force=True))
    assert reference_set.check(out, figures=False).ok
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_tables_older_than_the_runs_or_made_with_other_options_are_refused(workflow_run, tmp_path):
    results = copied_results(workflow_run, tmp_path)
    commands.collect(results / "runs", results, final_window=2)
    with pytest.raises(UserError, match="final.csv is not what `pps collect --final-window 3` makes of the runs"):
        reference_set.package(config(workflow_run, tmp_path / "set", results=results))
    analyse(results, options=replace(OPTIONS, stats=replace(OPTIONS.stats, thresholds=(0.5, 0.8))))
    with pytest.raises(UserError) as err:
        reference_set.package(config(workflow_run, tmp_path / "set", results=results))
    assert "are not what `pps stats --baseline qmix --thresholds 0.3 0.5" in str(err.value)
    assert "convergence.csv: not what `pps stats` makes" in str(err.value) and "Nothing was written" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_missing_results_or_figures_are_listed(workflow_run, tmp_path):
    results = copied_results(workflow_run, tmp_path)
    (results / "tables" / "claims.md").unlink()
    with pytest.raises(UserError, match=r"10 file\(s\) a reference set is made of are missing:\n.*claims.md\n"
                                        r".*nowhere/learning_curves.png") as err:
        reference_set.package(config(workflow_run, tmp_path / "set", results=results, figures=tmp_path / "nowhere"))
    assert "Run the whole workflow first" in str(err.value)


def test_an_interrupted_packaging_leaves_no_set_and_no_temporary_folder(workflow_run, tmp_path, monkeypatch):
    def interrupted(_runs):
        raise KeyboardInterrupt  # Ctrl-C after the tables and figures were copied

    monkeypatch.setattr(reference_set, "runs_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        reference_set.package(config(workflow_run, tmp_path / "evidence" / "set"))
    assert list((tmp_path / "evidence").iterdir()) == []


# --------------------------------------------------------------------------- committed sets
@pytest.mark.parametrize("manifest", COMMITTED_SETS, ids=lambda path: path.parent.name)
def test_every_committed_reference_set_still_reproduces(manifest):
    result = reference_set.check(manifest.parent)
    assert result.ok, "\n".join(result.differences)
