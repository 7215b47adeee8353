"""The trainer's schedule on real SMAX 3m with tiny budgets: slots per method, one learner
update per collected episode whatever `n_envs` is, and evaluations that never touch training.
"""

from __future__ import annotations

import math

import pytest
import torch

from pps.config import resolve_config
from pps.methods import METHODS
from pps.nets.mixers import QMixer, VDNMixer
from pps.train import Trainer

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
