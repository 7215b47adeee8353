"""End to end: synthetic run folders -> pps collect -> pps stats -> pps plot, through pps.cli.main."""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pps.analysis.outputs import COLLECT_FILES, FIGURE_NAMES, FIGURE_SIZES, STATS_FILES, figure_file, figure_files
from pps.analysis.stats.tables import ESTIMATE_COLUMNS
from pps.cli import main
from pps.plan import figure_captions
from tests.helpers.synthetic_runs import write_grid, write_run


def _digest(folder: Path, names) -> dict[str, str]:
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}


def _pipeline(tmp: Path, *extra_stats) -> tuple[Path, Path]:
    res, fig = tmp / "results", tmp / "figures"
    assert main(["collect", "--runs", str(tmp / "runs"), "--out", str(res), "--final-window", "3"]) == 0
    assert main(["stats", "--results", str(res), "--baseline", "qmix", "--thresholds", "0.5", "0.8",
                 "--smooth-window", "3", "--bootstrap-seed", "0", *extra_stats]) == 0
    assert main(["plot", "--results", str(res), "--out", str(fig)]) == 0
    return res, fig


@pytest.fixture(scope="module")
def grid_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grid")
    write_grid(tmp / "runs", seeds=(0, 1, 2))
    write_run(tmp / "runs", method="vdn", seed=0, status="running", partial=True)  # excluded
    res, fig = _pipeline(tmp)
    return tmp, res, fig


def test_every_declared_output_is_written(grid_results):
    tmp, res, fig = grid_results
    for name in (*COLLECT_FILES, *STATS_FILES):
        assert (res / name).is_file() and (res / name).stat().st_size > 0, name
    for name in figure_files():
        assert (fig / name).is_file() and (fig / name).stat().st_size > 1000, name
    assert set(figure_captions(FIGURE_NAMES)) == set(FIGURE_NAMES)
    leftovers = [p for p in tmp.rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers


def test_figure_files_are_exactly_as_wide_as_they_print(grid_results, tmp_path):
    """figures/<name>.* at the full text width (7 in), figures/column/<name>.* one column wide
    (3.3 in): PNGs at 300 dpi, PDF pages of 504 and 237.6 pt; `--annotate` makes drafts."""
    _, res, fig = grid_results
    for size, width_in in FIGURE_SIZES.items():
        for name in FIGURE_NAMES:
            with Image.open(fig / figure_file(name, "png", size)) as png:
                assert png.size[0] == round(width_in * 300), (name, size)
            pdf = (fig / figure_file(name, "pdf", size)).read_bytes()
            box = re.search(rb"/MediaBox \[\s*0 0 ([0-9.]+) ([0-9.]+)\s*\]", pdf)
            assert float(box.group(1)) == pytest.approx(width_in * 72), (name, size)
    assert main(["plot", "--results", str(res), "--out", str(tmp_path), "--annotate"]) == 0
    with Image.open(tmp_path / "learning_curves.png") as draft, Image.open(fig / "learning_curves.png") as plain:
        assert draft.size[0] == plain.size[0] and draft.size[1] > plain.size[1]  # the header adds height only


def test_tables_are_readable_and_consistent(grid_results):
    _, res, _ = grid_results
    curves = pd.read_csv(res / "curves.csv")
    assert list(curves.columns) == ["env", "map", "method", "interval", "seed", "step", "metric", "value"]
    final = pd.read_csv(res / "final.csv")
    assert len(final) == 2 * 6 * 3 and "vdn" not in set(final["method"])  # the running vdn run is left out
    assert final.loc[final["method"] == "qmix", "interval"].isna().all()
    stats = pd.read_csv(res / "stats.csv")
    assert (stats["n"] == 3).all() and stats.loc[stats["method"] != "qmix", "welch_p_fdr"].notna().any()
    tex = (res / "tables/convergence.tex").read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"\cmidrule" in tex
    across = pd.read_csv(res / "across_maps.csv")  # the estimates beside the IQM, appended after the old columns
    assert list(across.columns)[-len(ESTIMATE_COLUMNS):] == list(ESTIMATE_COLUMNS)
    assert (across["optimality_gap"] - (1 - across["mean"])).abs().max() < 1e-9  # no win rate is above 1
    table = (res / "tables/across_maps.md").read_text()
    assert "| Optimality gap [95% CI] |" in table and "20,000 resamples" in table
    assert r"\toprule" in (res / "tables/across_maps.tex").read_text()
    claims = (res / "tables/claims.md").read_text()
    for claim in ("10–30% average improvement", "wins tasks QMIX cannot", "RS-PPS strongest"):
        assert claim in claims
    assert any(v in claims for v in ("supported", "inconclusive"))


def test_tables_are_byte_identical_across_invocations(grid_results, tmp_path):
    tmp, res, _ = grid_results
    names = (*COLLECT_FILES, *STATS_FILES)
    first = _digest(res, names)
    res2 = tmp_path / "again"
    assert main(["collect", "--runs", str(tmp / "runs"), "--out", str(res2)]) == 0
    assert main(["stats", "--results", str(res2)]) == 0
    assert _digest(res2, names) == first


def test_empty_states_are_drawn_not_skipped(tmp_path):
    # one map, QMIX and one PPS interval only: interval sensitivity must say why it is empty
    for seed in range(2):
        write_run(tmp_path / "runs", method="qmix", seed=seed, win=lambda s: s / 100_000)
        write_run(tmp_path / "runs", method="a-pps", interval=300, seed=seed,
                  win=lambda s: np.minimum(1, 2 * s / 100_000))
    res, fig = _pipeline(tmp_path)
    for name in figure_files():
        assert (fig / name).is_file()
    for name in STATS_FILES:
        assert (res / name).is_file()


def test_single_seed_and_no_baseline_do_not_crash(tmp_path, capsys):
    write_run(tmp_path / "runs", method="rs-pps", interval=300, seed=0, win=0.3)
    res, fig = _pipeline(tmp_path)
    assert "baseline 'qmix' has no runs" in capsys.readouterr().err
    stats = pd.read_csv(res / "stats.csv")
    assert stats["iqm"].iloc[0] == pytest.approx(0.3) and np.isnan(stats["iqm_ci_low"].iloc[0])


def test_bad_input_exits_2_with_a_message_naming_the_file(tmp_path, capsys):
    runs = tmp_path / "runs"
    runs.mkdir()
    assert main(["collect", "--runs", str(runs), "--out", str(tmp_path / "res")]) == 2
    assert "No run folders" in capsys.readouterr().err
    write_run(runs, seed=0)
    bad = write_run(runs, seed=1, columns=["step", "episodes", "updates", "wall_s", "win"])
    assert main(["collect", "--runs", str(runs), "--out", str(tmp_path / "res")]) == 2
    err = capsys.readouterr().err
    assert str(bad / "metrics.csv") in err and "Traceback" not in err
    assert not (tmp_path / "res").exists()  # nothing written half-way
    assert main(["collect", "--runs", str(runs), "--out", str(tmp_path / "res"), "--skip-invalid"]) == 0
    assert str(bad / "metrics.csv") in capsys.readouterr().err
    assert main(["stats", "--results", str(tmp_path / "nothing")]) == 2
    assert "final.csv does not exist" in capsys.readouterr().err


def test_outputs_module_is_import_light():
    import subprocess

    code = ("import sys, pps.analysis.outputs; "
            "print(any(m.split('.')[0] in ('pandas', 'numpy', 'matplotlib', 'scipy') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_old_command_name_still_collects_and_says_so(grid_results, tmp_path, capsys):
    tmp, res, _ = grid_results
    assert main(["aggregate", "--runs", str(tmp / "runs"), "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if "old name" in line] == [
        "pps aggregate: this is the old name of `pps collect`, which it runs; use that name"]
    assert _digest(tmp_path, COLLECT_FILES) == _digest(res, COLLECT_FILES)


def test_collect_and_stats_do_not_import_matplotlib():
    import subprocess

    code = ("import sys, pps.cli.collect, pps.cli.stats; "
            "print(any(m.split('.')[0] in ('matplotlib', 'seaborn') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
