"""`pps bench --cost`: what a preset's grid costs, and JaxMARL's qmix_rnn timed beside it.

No timing assertions: a tiny run checks the plumbing and that every projected number follows
from the measured ones; the JaxMARL harness is checked against a stand-in script that behaves
like qmix_rnn.py on the command line (Hydra overrides in, a wall-clock that grows with
TOTAL_TIMESTEPS out)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from pps.bench import jaxmarl
from pps.bench.cost import grid_runs, read_preset
from pps.cli import main
from pps.config import resolve_config

REPO = Path(__file__).resolve().parents[2]


def test_the_grid_counts_each_pps_method_once_per_interval():
    paper = read_preset(REPO / "workflow/config/paper.yaml")
    claims = read_preset(REPO / "workflow/config/claims.yaml")
    # paper: (qmix, vdn, qmix-ns) + (a-pps, rs-pps, pp-pps) x 5 intervals, 5 seeds
    assert grid_runs(paper, "8m") == (3 + 3 * 5) * 5
    # claims: (qmix, qmix-ns) + 3 PPS methods x 1 interval, 10 seeds
    assert grid_runs(claims, "8m") == (2 + 3) * 10
    assert grid_runs(claims, "3m") == 0  # not a claims map


def test_a_tiny_cost_run_projects_from_what_it_measured(tmp_path, capsys):
    preset = {"envs": {"default": "mpe"}, "maps": ["simple_spread_v3"], "methods": ["qmix", "a-pps"],
              "intervals": [50, 100], "seeds": [0, 1],
              "run": {"t_max": 10_000, "n_envs": 2, "batch_size": 2, "buffer_size": 8, "eval_interval": 1_000,
                      "eval_episodes": 2, "rnn_hidden": 8, "mixer_embed": 8, "hypernet_hidden": 8}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(preset))
    assert main(["bench", "--cost", "--presets", str(path), "--maps", "simple_spread_v3", "--steps", "50",
                 "--out", str(tmp_path / "out")]) == 0
    record = json.loads((tmp_path / "out" / "cost.json").read_text())
    (row,) = record["rows"]
    assert row["env"] == "mpe" and row["batch_size"] == 2 and row["timed_steps"] >= 50
    s_per_step = row["timed_s"] / row["timed_steps"]
    config = resolve_config({**preset["run"], "env": "mpe", "map": "simple_spread_v3", "method": "qmix"})
    evaluations = 1 + 10 + config.effective_absolute_eval_episodes / 2  # step 0, every 1,000 steps, absolute
    expected = (10_000 * s_per_step + evaluations * row["eval_s"]) / 3600
    assert row["run_hours"] == pytest.approx(expected, rel=0.01, abs=1e-3)
    assert row["grid_runs"] == (1 + 2) * 2
    assert record["totals"] == [{"preset": "tiny", "runs": 6, "cpu_hours": row["grid_cpu_hours"],
                                 "maps_measured": ["simple_spread_v3"], "maps_not_measured": []}]
    assert "| simple_spread_v3 | 3 |" in (tmp_path / "out" / "cost.md").read_text()


@pytest.mark.parametrize("argv, message", [
    (["--cost", "--sizes", "1"], "--sizes does not apply to --cost"),
    (["--cost", "--steps", "0"], "--steps must be a positive integer"),
    (["--cost", "--maps", "nomap"], "unknown map 'nomap'"),
    (["--cost", "--jaxmarl", "/nonexistent"], "not found; give the root of a JaxMARL checkout"),
    (["--cost", "--jaxmarl-timesteps", "100", "50"], "needs 0 < SMALL < LARGE"),
    (["--steps", "10"], "--steps belongs to --cost"),
    (["--groups", "--steps", "10"], "--steps does not apply to --groups"),
    (["--cost", "--jaxmarl-maps", "3m"], "need --jaxmarl PATH"),
])
def test_bad_cost_options_are_user_errors(tmp_path, capsys, argv, message):
    assert main(["bench", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


STAND_IN = textwrap.dedent('''
    """Stands in for qmix_rnn.py: reads Hydra-style overrides, sleeps in proportion to them."""
    import sys, time
    args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
    assert args["+alg"] == "ql_rnn_smax" and args["alg.NUM_ENVS"] == "8" and args["alg.HIDDEN_SIZE"] == "64"
    assert args["alg.TEST_DURING_TRAINING"] == "False" and args["WANDB_MODE"] == "disabled"
    if args["alg.MAP_NAME"] == "broken":
        print("Traceback: something went wrong"); sys.exit(3)
    time.sleep(0.2 + int(args["alg.TOTAL_TIMESTEPS"]) / 10_000)  # compile, then 10,000 steps/s
''')


def test_the_jaxmarl_harness_times_the_difference_of_two_lengths(tmp_path, monkeypatch):
    monkeypatch.setattr(jaxmarl, "NEEDS", ())  # the stand-in needs none of the baseline's packages
    script = tmp_path / "JaxMARL" / jaxmarl.SCRIPT
    script.parent.mkdir(parents=True)
    script.write_text(STAND_IN)
    small = jaxmarl.run_qmix_rnn(tmp_path / "JaxMARL", "3m", 1_000, tmp_path / "small.log")
    large = jaxmarl.run_qmix_rnn(tmp_path / "JaxMARL", "3m", 5_000, tmp_path / "large.log")
    assert jaxmarl.steady_steps_per_s(small, large) == pytest.approx(10_000, rel=0.3)  # start-up cancels out
    row = jaxmarl.jaxmarl_row("3m", small, large, {"env_steps_per_s": 500.0, "updates_per_kstep": 25.0})
    assert row["ours_over_jaxmarl"] == pytest.approx(500 / row["jaxmarl_steps_per_s"], rel=1e-2)
    assert row["jaxmarl_env_steps_per_gradient_step"] == 32 and row["ours_env_steps_per_gradient_step"] == 40
    with pytest.raises(jaxmarl.UserError, match="(?s)exited with status 3.*something went wrong"):
        jaxmarl.run_qmix_rnn(tmp_path / "JaxMARL", "broken", 1_000, tmp_path / "broken.log")
