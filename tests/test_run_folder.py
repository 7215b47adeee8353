"""The run-folder contract (`pps.run_folder`): paths, file names, metrics text, and provenance.

Training, the workflow and the analysis all take these from one module; the tests pin the
strings that results trees on disk already use, so a change here is a deliberate one.
"""

from __future__ import annotations

import gzip
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pps import provenance, run_folder
from pps.config import resolve_config
from pps.errors import UserError
from pps.float_format import FLOAT_FORMAT, format_float, format_float32
from pps.run_folder import Evaluation, RunFolder


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
    assert (run_folder.RUN_JSON, run_folder.METRICS, run_folder.PARTIAL, run_folder.CHECKPOINT, run_folder.MODEL,
            run_folder.EPISODES) == (
        "run.json", "metrics.csv", "metrics.csv.partial", "checkpoint.pt", "model.pt", "episodes.csv.gz")
    assert run_folder.LOCK_FILE == ".pps-train.lock"
    assert run_folder.METRICS_COLUMNS[0] == "step" and len(run_folder.METRICS_COLUMNS) == 11


def test_metrics_text_writes_floats_without_binary_noise_and_nan_empty():
    text = run_folder.metrics_text([{"step": 0, "loss": math.nan, "epsilon": 1 - 0.057, "test_win_rate": None,
                                     "test_return_mean": 0.1 + 0.2, "wall_s": 12345.678,
                                     "train_return_mean": -121.86432052612305}])
    header, row = text.splitlines()
    assert header == ",".join(run_folder.METRICS_COLUMNS)
    values = dict(zip(run_folder.METRICS_COLUMNS, row.split(",")))
    assert values["step"] == "0" and values["loss"] == "" and values["test_win_rate"] == ""
    # repr would write 0.9430000000000001 and 0.30000000000000004
    assert values["epsilon"] == "0.943" and values["test_return_mean"] == "0.3"
    # statistics of float32 values keep float32's 7 digits: the mean of returns that were each
    # float32(0.05) is 0.05, not the 0.05000000074505806 of their double
    assert values["wall_s"] == "12345.678" and values["train_return_mean"] == "-121.8643"
    mean_of_float32 = run_folder.metrics_text([{"test_return_mean": 0.05000000074505806}]).splitlines()[1]
    assert dict(zip(run_folder.METRICS_COLUMNS, mean_of_float32.split(",")))["test_return_mean"] == "0.05"


def test_float_formats_drop_noise_and_keep_what_the_value_holds():
    assert [format_float(v) for v in (0.9430000000000001, 1e-12, 2e6, 1 / 3, None, math.nan)] == \
        ["0.943", "1e-12", "2000000", "0.3333333333", "", ""]
    # float32 values (per-episode returns): the shortest text that reads back as the same float32
    x32 = [float(np.float32(v)) for v in (0.1, -121.86432, 2 / 3, 1.5e-5, 100.0)]
    assert [format_float32(v) for v in x32] == ["0.1", "-121.86432", "0.6666667", "0.000015", "100"]
    values = np.random.default_rng(0).normal(0, 100, 2000).astype(np.float32)
    assert all(np.float32(float(format_float32(float(v)))) == v for v in values)
    assert FLOAT_FORMAT % (1 - 0.057) == format_float(1 - 0.057)  # pandas writes the same text


def _evaluations() -> list[Evaluation]:
    return [Evaluation(run_folder.TEST, 0, [float(np.float32(0.1)), -1.5], [True, False]),
            Evaluation(run_folder.TEST, 5003, [2.0, 1.25], [False, False]),
            Evaluation(run_folder.ABSOLUTE, 5003, [1.0, 2.0, 3.0], [True, True, False])]


def test_episodes_file_is_long_gzipped_csv_that_reads_back(tmp_path):
    folder = RunFolder(tmp_path)
    folder.write_episodes(_evaluations())
    assert folder.episodes.name == "episodes.csv.gz" == run_folder.EPISODES
    lines = gzip.decompress(folder.episodes.read_bytes()).decode().splitlines()
    assert lines[0] == "phase,step,episode,return,won" == ",".join(run_folder.EPISODES_COLUMNS)
    assert lines[1:4] == ["test,0,0,0.1,1", "test,0,1,-1.5,0", "test,5003,0,2,0"]
    assert lines[-1] == "absolute,5003,2,3,0" and len(lines) == 8
    back = folder.read_episodes()
    assert [(e.phase, e.step, len(e.returns)) for e in back] == [("test", 0, 2), ("test", 5003, 2),
                                                                  ("absolute", 5003, 3)]
    assert back[0].returns == [0.1, -1.5] and back[2].won == [True, True, False]
    # the same values make the same bytes (gzip without a time stamp), written atomically
    first = folder.episodes.read_bytes()
    folder.write_episodes(_evaluations())
    assert folder.episodes.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episodes.csv.gz"]  # no temp file left


def test_episodes_without_a_win_condition_leave_won_empty_and_a_bad_file_is_named(tmp_path):
    folder = RunFolder(tmp_path)
    assert folder.read_episodes() is None
    folder.write_episodes([Evaluation(run_folder.TEST, 0, [-80.5, -60.25], None)])
    assert gzip.decompress(folder.episodes.read_bytes()).decode().splitlines()[1:] == ["test,0,0,-80.5,",
                                                                                         "test,0,1,-60.25,"]
    assert folder.read_episodes()[0].won is None
    folder.episodes.write_bytes(gzip.compress(b"phase,step,episode,return,won\ntest,0,1,-80.5,\n"))
    with pytest.raises(ValueError, match="line 2"):
        folder.read_episodes()


def test_finish_writes_episodes_before_metrics(tmp_path, monkeypatch):
    folder = RunFolder(tmp_path)
    order = []
    original = run_folder.atomic.write_text
    monkeypatch.setattr(run_folder.atomic, "write_text", lambda path, text: (order.append(Path(path).name),
                                                                            original(path, text)))
    monkeypatch.setattr(RunFolder, "write_episodes", lambda self, evs: order.append(run_folder.EPISODES))
    folder.finish({"status": "finished"}, [{"step": 0}], _evaluations())
    assert order == [run_folder.RUN_JSON, run_folder.EPISODES, run_folder.METRICS]


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
