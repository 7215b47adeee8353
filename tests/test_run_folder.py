"""The run-folder contract (`pps.run_folder`): paths, file names, metrics text, and provenance.

Training, the workflow and the analysis all take these from one module; the tests pin the
strings that results trees on disk already use, so a change here is a deliberate one.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from pps import provenance, run_folder
from pps.config import resolve_config
from pps.errors import UserError
from pps.run_folder import RunFolder


def test_run_paths_are_the_layout_on_disk():
    assert run_folder.run_dir("results", "smax", "3m", "a-pps", 300, 2) == Path("results/runs/smax/3m/a-pps/300/seed2")
    assert run_folder.run_dir("out", "smax", "3m", "qmix", None, 0) == Path("out/runs/smax/3m/qmix/-/seed0")
    assert run_folder.run_dir("out", "smax", "3m", "qmix", run_folder.NO_INTERVAL, "0") == \
        Path("out/runs/smax/3m/qmix/-/seed0")  # the workflow passes its wildcards as strings
    assert run_folder.cell_dir("r", "mpe", "simple_spread_v3", "rs-pps", 30) == \
        Path("r/runs/mpe/simple_spread_v3/rs-pps/30")
    assert run_folder.run_parts("smax", "3m", "qmix", None, 4) == ("smax", "3m", "qmix", "-", "seed4")


@pytest.mark.parametrize("method, interval, folder", [("qmix", None, "-"), ("a-pps", None, "300"), ("a-pps", 50, "50")])
def test_default_out_dir_uses_the_effective_interval(method, interval, folder):
    config = resolve_config({"env": "smax", "map": "3m", "method": method, "seed": 7,
                             **({} if interval is None else {"interval": interval})})
    assert run_folder.default_out_dir(config) == Path(f"results/runs/smax/3m/{method}/{folder}/seed7")
    assert run_folder.default_out_dir(config, "x") == Path(f"x/smax/3m/{method}/{folder}/seed7")


def test_file_names_and_columns_are_the_contract():
    assert (run_folder.RUN_JSON, run_folder.METRICS, run_folder.PARTIAL, run_folder.CHECKPOINT, run_folder.MODEL) == (
        "run.json", "metrics.csv", "metrics.csv.partial", "checkpoint.pt", "model.pt")
    assert run_folder.LOCK_FILE == ".pps-train.lock"
    assert run_folder.METRICS_COLUMNS[0] == "step" and len(run_folder.METRICS_COLUMNS) == 11


def test_metrics_text_writes_floats_exactly_and_nan_empty():
    text = run_folder.metrics_text([{"step": 0, "loss": math.nan, "epsilon": 0.1 + 0.2, "test_win_rate": None}])
    header, row = text.splitlines()
    assert header == ",".join(run_folder.METRICS_COLUMNS)
    values = dict(zip(run_folder.METRICS_COLUMNS, row.split(",")))
    assert values["step"] == "0" and values["loss"] == "" and values["test_win_rate"] == ""
    assert float(values["epsilon"]) == 0.1 + 0.2


def test_a_run_folder_reads_back_what_it_writes(tmp_path):
    folder = RunFolder(tmp_path / "a" / "seed0")
    folder.create()
    assert folder.read_record() is None and folder.checkpoint_position() == 0 and not folder.has_checkpoint()
    folder.write_record({"status": "finished"})
    assert not folder.is_finished(folder.read_record())  # no metrics.csv yet
    folder.write_partial([{"step": 0}])
    folder.save_checkpoint({"progress": {"episodes": 12}})
    assert folder.checkpoint_position() == 12
    folder.finish({"status": "finished"}, [{"step": 0}, {"step": 10}])
    assert folder.is_finished(folder.read_record())
    assert not folder.partial.exists() and not folder.has_checkpoint()
    folder.save_model({"agents": {}, "config": {"seed": 0}})
    assert folder.load_model()["config"] == {"seed": 0}


def test_a_damaged_checkpoint_or_run_json_is_one_line(tmp_path):
    folder = RunFolder(tmp_path)
    folder.checkpoint.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="is damaged or not a pps checkpoint"):
        folder.checkpoint_position()
    folder.run_json.write_text("{")
    with pytest.raises(UserError, match="is not valid JSON"):
        folder.read_record()


def test_paths_and_provenance_import_nothing_heavy():
    code = ("import sys; from pps import provenance, run_folder; "
            "run_folder.run_dir('r', 'smax', '3m', 'qmix', None, 0); provenance.record(); "
            "print(sorted(m for m in ('jax', 'torch', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_provenance_has_the_keys_every_record_carries():
    record = provenance.record()
    assert list(record) == ["versions", "git_commit", "host"]
    assert "python" in record["versions"] and record["host"]
    assert set(provenance.machine()) == {"platform", "processor", "cpu_count", "affinity_cpus"}
