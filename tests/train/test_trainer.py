"""The trainer's schedule on real SMAX 3m with tiny budgets: slots per method, one learner
update per collected episode whatever `n_envs` is, and evaluations that never touch training;
on MPE, what a run shows (the tables' score per seed) and keeps (every test episode, the
absolute evaluation, no win rate where there is no win condition).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from pps.config import resolve_config
from pps.envs.scores import score_rule
from pps.methods import METHODS
from pps.nets.mixers import QMixer, VDNMixer
from pps.run_folder import RunFolder
from pps.train import Trainer, run_group
from pps.train.trainer import progress_label, progress_postfix

TINY = {"map": "3m", "n_envs": 4, "batch_size": 6, "buffer_size": 64, "eval_episodes": 2,
        "target_update_interval": 10, "checkpoint_interval": 10**9, "rnn_hidden": 16, "mixer_embed": 8,
        "hypernet_hidden": 16, "rs_eval_episodes": 1, "epsilon_anneal_steps": 500}


@pytest.mark.parametrize("method", list(METHODS))
def test_one_slot_for_qmix_and_vdn_and_one_per_agent_for_the_rest(tmp_path, method):
    for map_name, n_agents in (("3m", 3), ("2s3z", 5)):
        trainer = Trainer(resolve_config(TINY, {"method": method, "map": map_name}), tmp_path / map_name,
                          show_progress=False)
        shared = method in ("qmix", "vdn")
        assert trainer.agents.n_slots == (1 if shared else n_agents)
        assert trainer.learner.layout.kind == ("shared" if shared else "per_agent")
        assert isinstance(trainer.learner.mixer, VDNMixer if method == "vdn" else QMixer)
    # the mixer is one flag away, the slots stay the method's
    trainer = Trainer(resolve_config(TINY, {"method": "a-pps", "mixer": "vdn"}), tmp_path / "vdn-pps",
                      show_progress=False)
    assert trainer.agents.n_slots == 3 and isinstance(trainer.learner.mixer, VDNMixer)


def _train(tmp_path, **keys) -> tuple[Trainer, list[dict]]:
    """Train to t_max and record, per iteration, what training did: steps, returns, losses."""
    trainer = Trainer(resolve_config(TINY, keys), tmp_path, show_progress=False)
    trace: list[dict] = []
    iteration = trainer.iteration

    def traced() -> None:
        p = trainer.progress
        losses, returns = len(p.losses), len(p.train_returns)
        iteration()
        trace.append({"t_env": p.t_env, "episodes": p.episodes, "updates": trainer.learner.updates,
                      "returns": p.train_returns[returns:], "losses": p.losses[losses:]})

    trainer.iteration = traced
    trainer.train()
    return trainer, trace


@pytest.mark.slow
@pytest.mark.parametrize("n_envs, batch_size", [(4, 8), (4, 6), (4, 3)])
def test_updates_equal_episodes_minus_warm_up(tmp_path, n_envs, batch_size):
    """One learner update per collected episode once the buffer holds a batch: the iterations
    that end with fewer than `batch_size` episodes stored are the warm-up, every later
    iteration makes `n_envs` updates (not one, not `batch_size`)."""
    trainer, trace = _train(tmp_path, method="qmix", t_max=700, eval_interval=350,
                            n_envs=n_envs, batch_size=batch_size)
    warm_up = n_envs * (math.ceil(batch_size / n_envs) - 1)
    assert len(trace) > math.ceil(batch_size / n_envs) + 1, "too few iterations to see the schedule"
    for i, step in enumerate(trace, start=1):
        assert step["episodes"] == n_envs * i
        assert step["updates"] == max(0, step["episodes"] - warm_up), step
        assert len(step["losses"]) == (n_envs if step["episodes"] > warm_up else 0)
    p = trainer.progress
    assert trainer.learner.updates == p.episodes - warm_up
    assert all(row["updates"] == max(0, row["episodes"] - warm_up) for row in p.rows)


@pytest.mark.slow
def test_eval_interval_leaves_the_training_trajectory_unchanged(tmp_path):
    """Evaluation runs greedy episodes in its own envs, so evaluating 2 or 6 times must give
    the same training steps, returns, losses and final networks, bit for bit."""
    rare, rare_trace = _train(tmp_path / "rare", method="rs-pps", interval=4, t_max=900, eval_interval=450)
    often, often_trace = _train(tmp_path / "often", method="rs-pps", interval=4, t_max=900, eval_interval=150)
    assert len(often.progress.rows) > len(rare.progress.rows) + 2  # it did evaluate more often
    assert often_trace == rare_trace
    assert often.progress.aggregations == rare.progress.aggregations > 0
    for name, value in rare.agents.state_dict().items():
        assert torch.equal(value, often.agents.state_dict()[name]), name
    for name, value in rare.learner.mixer.state_dict().items():
        assert torch.equal(value, often.learner.mixer.state_dict()[name]), name


# ---------------------------------------------------------------------------- what a run shows and keeps
MPE_TINY = {"env": "mpe", "map": "simple_spread_v3", "t_max": 600, "eval_interval": 200, "eval_episodes": 4,
            "batch_size": 4, "n_envs": 4, "buffer_size": 100, "target_update_interval": 20,
            "epsilon_anneal_steps": 500, "checkpoint_interval": 10**9}


def test_the_progress_bar_names_the_seed_and_shows_each_seeds_score():
    config = resolve_config({"method": "a-pps", "interval": 50})
    assert progress_label(config, [3], True) == "3m a-pps K=50 seed 3"
    assert progress_label(config, [0, 1, 2], True) == "3m a-pps K=50, 3 seeds"
    assert progress_postfix("win rate", [(3, 0.40625)], 812.4) == "win rate 0.41, 812 steps/s"
    assert progress_postfix("score", [(0, -0.512), (1, None), (7, 1.0)], 99.6) == \
        "score s0=-0.51 s1=- s7=1.00, 100 steps/s"


@pytest.mark.slow
def test_on_mpe_a_group_shows_normalised_scores_keeps_every_episode_and_leaves_the_win_rate_empty(tmp_path, capfd):
    rule = score_rule("mpe", "simple_spread_v3")
    dirs = [tmp_path / "seed0", tmp_path / "seed1"]
    assert run_group([resolve_config(MPE_TINY, {"seed": s}) for s in (0, 1)], dirs) == ["finished"] * 2
    bar = capfd.readouterr().err.replace("\r", "\n").splitlines()
    finals = [pd.read_csv(d / "metrics.csv").iloc[-1] for d in dirs]
    scores = [float(rule(math.nan, row["test_return_mean"])) for row in finals]
    # the tables' score (normalised return), not the raw return, per seed
    assert any(f"score s0={scores[0]:.2f} s1={scores[1]:.2f}," in line for line in bar), bar[-3:]
    for folder in dirs:
        text = (folder / "metrics.csv").read_text().splitlines()
        assert all(line.split(",")[4] == "" for line in text[1:])  # test_win_rate: empty, not 0.0
        metrics = pd.read_csv(folder / "metrics.csv")
        evaluations = RunFolder(folder).read_episodes()
        tests = [e for e in evaluations if e.phase == "test"]
        assert [e.step for e in tests] == metrics["step"].tolist()
        assert all(len(e.returns) == 4 and e.won is None for e in tests)
        # returns are float32, written as the shortest text of their float32 value: means agree to float32's precision
        # metrics.csv keeps float32's 7 significant digits of the mean: equal to within 5e-7
        np.testing.assert_allclose([np.mean(e.returns) for e in tests], metrics["test_return_mean"], rtol=1e-6)
        absolute = evaluations[-1]
        assert (absolute.phase, len(absolute.returns), absolute.step) == ("absolute", 40, metrics["step"].iloc[-1])
        record = json.loads((folder / "run.json").read_text())["absolute_eval"]
        assert record["episodes"] == 40 and record["win_rate"] is None and record["score_kind"] == "normalised_return"
        assert record["return_mean"] == pytest.approx(np.mean(absolute.returns), rel=1e-7)
        assert record["score"] == pytest.approx(float(rule(math.nan, np.mean(absolute.returns))), rel=1e-6)
    assert evaluations[-1].returns != RunFolder(dirs[0]).read_episodes()[-1].returns  # each seed its own episodes


@pytest.mark.slow
def test_the_absolute_evaluation_changes_nothing_a_run_learns(tmp_path):
    """It plays in envs of its own stream after the run's last step: with it or without it the
    same metrics, test episodes and weights."""
    for name, extra in (("with", {}), ("without", {"absolute_eval_episodes": 0})):
        run_group([resolve_config(MPE_TINY, {"method": "rs-pps", "interval": 5, "rs_eval_episodes": 2}, extra)],
                  [tmp_path / name], show_progress=False)
    with_, without = RunFolder(tmp_path / "with"), RunFolder(tmp_path / "without")
    pd.testing.assert_frame_equal(pd.read_csv(with_.metrics).drop(columns="wall_s"),
                                  pd.read_csv(without.metrics).drop(columns="wall_s"))
    assert with_.read_episodes()[:-1] == without.read_episodes()
    assert with_.read_episodes()[-1].phase == "absolute" and without.read_episodes()[-1].phase == "test"
    assert "absolute_eval" not in json.loads(without.run_json.read_text())
    for name, value in with_.load_model()["agents"].items():
        assert torch.equal(value, without.load_model()["agents"][name]), name
