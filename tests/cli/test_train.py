"""End-to-end `pps train`: every method runs, same seed => same metrics, resume after kill -9, bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pps.config import resolve_config
from pps.run_folder import METRICS_COLUMNS
from pps.train import run_training

TINY = {"t_max": 1200, "eval_interval": 400, "eval_episodes": 4, "batch_size": 4, "n_envs": 4,
        "target_update_interval": 20}
NOT_WALL = [c for c in METRICS_COLUMNS if c != "wall_s"]


def tiny_set_args(extra: dict | None = None) -> list[str]:
    out = []
    for k, v in {**TINY, **(extra or {})}.items():
        out += ["--set", f"{k}={v}"]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("method, interval", [("qmix", None), ("vdn", None), ("qmix-ns", None),
                                              ("a-pps", 5), ("rs-pps", 5), ("pp-pps", 5)])
def test_every_method_trains_and_writes_valid_files(tmp_path, method, interval):
    config = resolve_config(TINY, {"method": method, "interval": interval, "rs_eval_episodes": 2})
    assert run_training(config, tmp_path, show_progress=False) == "finished"
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert list(metrics.columns) == list(METRICS_COLUMNS)
    assert metrics["step"].iloc[0] == 0 and metrics["step"].iloc[-1] >= TINY["t_max"]
    assert metrics["step"].is_monotonic_increasing
    assert metrics["test_win_rate"].between(0, 1).all()
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["status"] == "finished" and record["method"] == method and record["interval"] == interval
    assert record["updates"] == metrics["updates"].iloc[-1] > 0
    if interval:
        assert metrics["aggregations"].iloc[-1] == record["updates"] // interval > 0
    else:
        assert metrics["aggregations"].iloc[-1] == 0
    assert not (tmp_path / "metrics.csv.partial").exists() and not (tmp_path / "checkpoint.pt").exists()
    assert (tmp_path / "model.pt").exists()
    # a finished run re-run is a no-op
    assert run_training(config, tmp_path, show_progress=False) == "already finished"


@pytest.mark.slow
def test_same_seed_gives_identical_metrics_and_other_seed_differs(tmp_path):
    config = resolve_config(TINY, {"method": "rs-pps", "interval": 5, "rs_eval_episodes": 2})
    runs = []
    for name, cfg in (("a", config), ("b", config), ("c", resolve_config(config.to_dict(), {"seed": 1}))):
        run_training(cfg, tmp_path / name, show_progress=False)
        runs.append(pd.read_csv(tmp_path / name / "metrics.csv")[NOT_WALL])
    pd.testing.assert_frame_equal(runs[0], runs[1])
    assert not runs[0].equals(runs[2])


# `kill -9` and resume: tests/train/test_run_groups.py, a SMAX group through this command
# (a run alone, `--seed`, is a group of one through the same code).


@pytest.mark.parametrize("args, words", [
    (["--map", "3mm"], ["Unknown map", "3m"]),
    (["--env", "starcraft"], ["Unknown env", "smax"]),
    (["--method", "ppsq"], ["Unknown method", "a-pps"]),
    (["--method", "a-pps", "--interval", "0"], ["positive"]),
    (["--method", "qmix", "--interval", "100"], ["never aggregates"]),
    (["--set", "lrr=0.1"], ["Unknown config key 'lrr'", "Did you mean 'lr'"]),
    (["--seed", "-1"], ["'seed'", "0 to 4294967295"]),  # was a numpy traceback
])
def test_bad_input_is_one_paragraph_exit_2_no_traceback(tmp_path, args, words, pps_cli):
    done = pps_cli("train", "--out", str(tmp_path / "x"), *args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    for w in words:
        assert w in done.stderr
    assert not (tmp_path / "x").exists()


def test_out_dir_holding_another_run_is_refused_and_left_intact(tmp_path, pps_cli):
    out = tmp_path / "run"
    out.mkdir()
    record = {"status": "finished", "config": resolve_config({"method": "vdn"}).to_dict()}
    (out / "run.json").write_text(json.dumps(record))
    (out / "metrics.csv").write_text("precious\n")
    done = pps_cli("train", "--method", "qmix", "--out", str(out))
    assert done.returncode == 2 and "different run" in done.stderr and "Traceback" not in done.stderr
    assert (out / "metrics.csv").read_text() == "precious\n"
    assert json.loads((out / "run.json").read_text()) == record


@pytest.mark.slow
def test_resume_works_from_the_checkpoint_alone_and_refuses_a_foreign_one(tmp_path, monkeypatch):
    """The checkpoint carries its config: losing run.json must not restart the run from scratch."""
    from pps.errors import UserError
    from pps.train import Trainer

    config = resolve_config(TINY, {"method": "qmix-ns", "checkpoint_interval": 300})
    out = tmp_path / "run"
    real_iteration, calls = Trainer.iteration, []

    def crash_on_the_tenth(self):
        calls.append(1)
        if len(calls) == 10:
            raise KeyboardInterrupt
        real_iteration(self)

    monkeypatch.setattr(Trainer, "iteration", crash_on_the_tenth)
    with pytest.raises(KeyboardInterrupt):
        run_training(config, out, show_progress=False)
    monkeypatch.setattr(Trainer, "iteration", real_iteration)
    assert json.loads((out / "run.json").read_text())["status"] == "failed"
    assert (out / "checkpoint.pt").exists()
    (out / "run.json").unlink()

    with pytest.raises(UserError, match="different run"):
        run_training(resolve_config(config.to_dict(), {"seed": 9}), out, show_progress=False)
    assert run_training(config, out, show_progress=False) == "resumed"
    assert json.loads((out / "run.json").read_text())["resumed"] == 1
    run_training(config, tmp_path / "straight", show_progress=False)
    a = pd.read_csv(tmp_path / "straight" / "metrics.csv")[NOT_WALL]
    pd.testing.assert_frame_equal(a, pd.read_csv(out / "metrics.csv")[NOT_WALL])
