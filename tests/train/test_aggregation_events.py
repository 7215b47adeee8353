"""What one PPS aggregation event does inside a real run.

* RS-PPS's softmax runs on the task's normalised score (`pps.rs_scores`), so
  `rs_temperature` means the same on SMAX (returns <= 2), SMAC (<= 20) and MPE, whatever
  the learner's `reward_scale`.
* Aggregation happens at the start of every K-th learner update, before its gradient
  step and target copy (the authors' order), so a target copy that falls on the same
  update holds the aggregated networks.
"""

from __future__ import annotations

import json

import pytest
import torch

from pps.config import resolve_config
from pps.sharing import Aggregator
from pps.train import Trainer, run_training, weight_peak

SMALL = {"t_max": 400, "eval_interval": 400, "eval_episodes": 2, "batch_size": 4, "n_envs": 4,
         "rs_eval_episodes": 2, "buffer_size": 64}


def test_rs_weights_are_the_softmax_of_normalised_scores(tmp_path, monkeypatch):
    # reward_scale is the learner's knob: it must not change the RS-PPS weights
    config = resolve_config(SMALL, {"method": "rs-pps", "interval": 5, "rs_temperature": 0.1, "reward_scale": 3.0})
    trainer = Trainer(config, tmp_path, show_progress=False)
    raw = torch.tensor([1.0, 1.3, 0.7])  # SMAX-scale mean swap-evaluation returns
    monkeypatch.setattr("pps.train.trainer.swap_scores_per_run",
                        lambda runner, agents, episodes, runs: (raw.clone(), [123]))
    seen = []
    real_apply = Aggregator.apply
    monkeypatch.setattr(Aggregator, "apply", lambda self, a, o, w: (seen.append(w), real_apply(self, a, o, w)))
    trainer.aggregate()
    expected = torch.softmax(raw.double() / 2.0 / 0.1, dim=0)  # SMAX: a score is return / 2
    torch.testing.assert_close(seen[0], expected)
    assert seen[0].max() > 0.75  # 0.79; at raw scale the same returns would give 0.33 / 0.38 / 0.29
    assert trainer.progress.swap_env_steps == 123
    assert trainer.progress.rs_weight_peaks == [pytest.approx(float(expected.max()) * 3)]


def test_weight_peak_is_one_for_a_plain_mean_and_group_size_for_a_winner():
    groups = [[0, 1], [2, 3, 4]]
    assert weight_peak(torch.tensor([0.5, 0.5, 1 / 3, 1 / 3, 1 / 3]), groups) == pytest.approx(1.0)
    assert weight_peak(torch.tensor([0.5, 0.5, 1.0, 0.0, 0.0]), groups) == pytest.approx(3.0)


@pytest.mark.slow
def test_a_real_rs_run_records_its_score_scale_and_weight_spread(tmp_path):
    config = resolve_config(SMALL, {"method": "rs-pps", "interval": 2, "t_max": 1200})
    run_training(config, tmp_path, show_progress=False)
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["rs_score_scale"]["zero"] == 0.0 and record["rs_score_scale"]["one"] == 2.0
    spread = record["rs_weight_peaks"]
    assert spread["events"] == record["aggregations"] > 0
    assert 1.0 <= spread["peak_min"] <= spread["peak_median"] <= spread["peak_max"] <= 3.0
    print(f"RS-PPS weight peaks over a real 3m run (1 = A-PPS, 3 = one agent takes all): {spread}")


def test_aggregation_precedes_the_gradient_step_and_the_target_copy(tmp_path, monkeypatch):
    config = resolve_config(SMALL, {"method": "a-pps", "interval": 4, "target_update_interval": 4})
    trainer = Trainer(config, tmp_path, show_progress=False)
    events: list[tuple[str, int]] = []
    learner = trainer.learner
    real_aggregate, real_step, real_copy = trainer.aggregate, learner.slot_optimizer.step, learner.update_targets
    monkeypatch.setattr(trainer, "aggregate", lambda: (events.append(("aggregate", learner.updates)), real_aggregate()))
    monkeypatch.setattr(learner.slot_optimizer, "step", lambda: (events.append(("step", learner.updates)), real_step()))
    monkeypatch.setattr(learner, "update_targets", lambda: (events.append(("target", learner.updates)), real_copy()))
    while learner.updates < 4:
        trainer.iteration()
    # update 4 (learner.updates == 3 while it runs, 4 once counted): aggregate, step, copy
    fourth = [e for e in events if e[1] >= 3]
    assert fourth[:3] == [("aggregate", 3), ("step", 3), ("target", 4)]
    # so the copy holds the aggregated (then stepped) networks: online == target afterwards
    if learner.updates == 4:
        for name, value in trainer.agents.state_dict().items():
            torch.testing.assert_close(value, learner.target_agents.state_dict()[name], rtol=0, atol=0)
