"""RS-PPS on every backend: one score scale, and which agent id the swap evaluation feeds.

* A score is the task's normalised return (`pps.rs_scores`), so one `rs_temperature`
  weighs candidates alike on SMAC, SMAX and MPE; MPE's returns of about -100 no longer
  make the softmax one-hot.
* `rs_swap_agent_id`: `own` feeds network i its own id in every seat of its swap block;
  `agent` (the authors') feeds seat k's id.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from pps.config import RunConfig, resolve_config
from pps.envs.base import EnvInfo, Observation, StepResult
from pps.errors import UserError
from pps.nets.agents import SlotAgents
from pps.rs_scores import ScoreScale, score_scale
from pps.runner import Runner, swap_agent_ids, swap_layout_agents, swap_scores
from pps.sharing import reward_weights
from pps.train import deviations, weight_peak

# simple_spread_v3's row of pps/envs/score_references.csv
SPREAD_RANDOM, SPREAD_REF = -80.1471, -26.2971
# one real RS-PPS event's mean swap returns on simple_spread_v3 (3 agents, 4 episodes each)
MPE_EVENT = torch.tensor([-100.1, -69.7, -60.9])


def test_each_backend_scores_returns_on_its_normalised_scale():
    smac, smax, mpe = score_scale("smac", "3m"), score_scale("smax", "3m"), score_scale("mpe", "simple_spread_v3")
    assert (smac.zero, smac.one) == (0.0, 20.0)  # SMAC's reward_scale_rate
    assert (smax.zero, smax.one) == (0.0, 2.0)  # enemy health (1) + win bonus (1)
    assert (mpe.zero, mpe.one) == (SPREAD_RANDOM, SPREAD_REF)
    assert mpe(torch.tensor([SPREAD_RANDOM, SPREAD_REF], dtype=torch.float64)).tolist() == [0.0, 1.0]
    assert smac(torch.tensor([0.0, 5.0, 20.0])).tolist() == [0.0, 0.25, 1.0]
    assert smax(torch.tensor([1.0])).item() == 0.5
    assert mpe.to_record()["zero"] == SPREAD_RANDOM and "score_references.csv" in mpe.to_record()["basis"]


def test_one_temperature_weighs_equal_normalised_gaps_alike_on_every_backend():
    """Candidates 0.1 and 0.3 of the way from floor to solved get the same weights whether
    the returns are SMAC's, SMAX's or MPE's."""
    fractions = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    weights = []
    for env, map_name in (("smac", "3m"), ("smax", "3m"), ("mpe", "simple_spread_v3")):
        scale = score_scale(env, map_name)
        returns = scale.zero + fractions * (scale.one - scale.zero)
        weights.append(reward_weights(scale(returns), [[0, 1, 2]], RunConfig().rs_temperature))
    for w in weights[1:]:
        torch.testing.assert_close(w, weights[0])
    expected = torch.softmax(fractions / RunConfig().rs_temperature, dim=0)
    torch.testing.assert_close(weights[0], expected)


def test_mpe_returns_no_longer_make_the_softmax_one_hot():
    group = [[0, 1, 2]]
    raw = reward_weights(MPE_EVENT, group, 1.0)  # the old scale: raw returns, temperature 1
    assert weight_peak(raw, group) > 2.99
    scale = score_scale("mpe", "simple_spread_v3")
    new = reward_weights(scale(MPE_EVENT), group, RunConfig().rs_temperature)
    assert 1.2 < weight_peak(new, group) < 2.5  # 2.08: the best network leads, the others count
    # the paper preset's temperature is the old SMAC meaning: softmax of SMAC-scale returns
    smac = score_scale("smac", "3m")
    returns = torch.tensor([3.0, 4.0, 6.0])
    torch.testing.assert_close(reward_weights(smac(returns), group, 0.05), torch.softmax(returns.double(), dim=0))


def test_a_return_scored_task_without_reference_returns_is_a_user_error(monkeypatch):
    from pps.envs import references

    monkeypatch.setattr(references, "load_references", lambda path=None: pd.DataFrame(columns=references.COLUMNS))
    with pytest.raises(UserError, match="pps references --env mpe --map simple_spread_v3 --write"):
        score_scale("mpe", "simple_spread_v3")
    with pytest.raises(ValueError):
        ScoreScale(1.0, 1.0, "flat")


# ------------------------------------------------------------------ the swap evaluation's agent ids

def test_swap_agent_ids_give_each_block_its_networks_own_id():
    # a run group of 2 runs x 3 agents = 6 slots, 2 episodes each: block g is agent g % 3's
    ids = swap_agent_ids(3, 6, 2, "own")
    assert ids.shape == (12, 3, 3)
    for env in range(12):
        owner = (env // 2) % 3
        assert ids[env].tolist() == [[1.0 if j == owner else 0.0 for j in range(3)]] * 3
    assert swap_agent_ids(3, 6, 2, "agent") is None  # the runner's default: seat k sees k
    with pytest.raises(ValueError, match="own, agent"):
        swap_agent_ids(3, 6, 2, "seat")


class _TwoStepEnv:
    """B envs of 2 agents, obs 1, 2 actions, episodes of 2 steps paying 1 per step."""

    def __init__(self, n_envs: int) -> None:
        self.n_envs, self.t = n_envs, 0
        self.info = EnvInfo("stub", "stub", n_agents=2, n_actions=2, obs_dim=1, state_dim=1,
                            episode_limit=2, unit_types=(0, 0), unit_type_names=("marine",) * 2)

    def _observe(self) -> Observation:
        b = self.n_envs
        return Observation(torch.zeros(b, 2, 1), torch.zeros(b, 1), torch.ones(b, 2, 2, dtype=torch.bool))

    def reset(self) -> Observation:
        self.t = 0
        return self._observe()

    def step(self, actions: torch.Tensor) -> StepResult:
        self.t += 1
        o = self._observe()
        done = torch.full((self.n_envs,), self.t >= 2)
        return StepResult(o.obs, o.state, o.avail, torch.ones(self.n_envs), done,
                          torch.zeros(self.n_envs, dtype=torch.bool), torch.zeros(self.n_envs, dtype=torch.bool))


@pytest.mark.parametrize("mode", ["own", "agent"])
def test_the_swap_runner_feeds_the_chosen_ids(mode):
    """The ids that reach each slot's network: with `own`, slot g only ever sees id g; with
    `agent`, every slot sees both seats' ids, as in training."""
    n, per_slot = 2, 3
    agents = SlotAgents(n, input_dim=1 + 2 + n, hidden=4, n_actions=2)
    agents.reset_parameters(torch.Generator().manual_seed(0))
    seen: list[torch.Tensor] = []
    real_step = agents.step
    agents.step = lambda x, h: (seen.append(x.clone()), real_step(x, h))[1]
    runner = Runner(_TwoStepEnv(n * per_slot), swap_layout_agents(agents), torch.device("cpu"),
                    agent_ids=swap_agent_ids(n, n, per_slot, mode))
    scores, steps = swap_scores(runner, agents, per_slot)
    assert scores.tolist() == [2.0, 2.0] and steps == n * per_slot * 2
    for x in seen:  # [slots, rows, features]; the last n features are the id
        for g in range(n):
            ids = x[g, :, -n:]
            if mode == "own":
                assert torch.equal(ids, torch.eye(n)[g].expand_as(ids))
            else:
                assert torch.equal(ids, torch.eye(n).repeat(per_slot, 1))


def test_rs_swap_agent_id_is_a_validated_key_with_a_deviation_only_for_own():
    assert RunConfig().rs_swap_agent_id == "own"
    with pytest.raises(UserError, match="'rs_swap_agent_id' must be one of own, agent"):
        resolve_config({"rs_swap_agent_id": "seat"})
    own = deviations(resolve_config({"method": "rs-pps"}))
    agent = deviations(resolve_config({"method": "rs-pps", "rs_swap_agent_id": "agent"}))
    assert any("own agent id" in d for d in own) and not any("own agent id" in d for d in agent)
    assert not any("own agent id" in d for d in deviations(resolve_config({"method": "a-pps"})))


def test_a_trainer_on_mpe_scores_swap_returns_by_the_reference_returns(tmp_path, monkeypatch):
    from pps.sharing import Aggregator
    from pps.train import Trainer

    # every env batch of 3 (train, test, swap: 3 agents x 1 episode), so jax compiles one shape
    config = resolve_config({"env": "mpe", "map": "simple_spread_v3", "method": "rs-pps", "interval": 5,
                             "n_envs": 3, "batch_size": 2, "buffer_size": 8, "eval_episodes": 3,
                             "rs_eval_episodes": 1, "t_max": 100})
    trainer = Trainer(config, tmp_path, show_progress=False)
    assert trainer.swap_runner is not None
    assert torch.equal(trainer.swap_runner.agent_ids, swap_agent_ids(3, 3, 1, "own"))
    monkeypatch.setattr("pps.train.trainer.swap_scores_per_run",
                        lambda runner, agents, episodes, runs: (MPE_EVENT.clone(), [50]))
    seen = []
    real_apply = Aggregator.apply
    monkeypatch.setattr(Aggregator, "apply", lambda self, a, o, w: (seen.append(w), real_apply(self, a, o, w)))
    trainer.aggregate()
    span = SPREAD_REF - SPREAD_RANDOM
    expected = torch.softmax((MPE_EVENT.double() - SPREAD_RANDOM) / span / config.rs_temperature, dim=0)
    torch.testing.assert_close(seen[0], expected)
    assert math.isclose(trainer.progress.rs_weight_peaks[0], float(expected.max()) * 3, rel_tol=1e-9)
