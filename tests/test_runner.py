"""The runner against a deterministic stand-in backend: padding, `won`, action masks,
epsilon-greedy, the epsilon schedule and RS-PPS's swap evaluation.

`BlockEnv` speaks `pps.envs.base`'s protocol. Env i ends after `lengths[i]` steps; after
that it returns garbage (obs 999, reward 7, won) that the runner must mask, as the
protocol allows. Every observation encodes (env, step), so the recorded padding can be
checked cell by cell, and the env asserts that every action it receives is available.
"""

from __future__ import annotations

import pytest
import torch

from pps.envs.group import RunGroupEnv
from pps.nets.agents import SlotAgents, SlotLayout
from pps.runner import Runner, epsilon_at, select_actions, swap_layout_agents, swap_scores
from tests.helpers.stand_in_envs import OBS, A, BlockEnv, N


def _agents(n_slots: int = 1, seed: int = 0) -> SlotAgents:
    agents = SlotAgents(n_slots, OBS + A + N, 8, A)
    agents.reset_parameters(torch.Generator().manual_seed(seed))
    return agents


def _collect(env: BlockEnv, epsilon: float = 0.0, seed: int = 0):
    runner = Runner(env, SlotLayout("shared", N, 1), torch.device("cpu"))
    return runner.collect(_agents(), epsilon, torch.Generator().manual_seed(seed), record=True)


def test_collect_pads_each_env_after_its_own_end():
    lengths, limit = [1, 3, 5], 6
    env = BlockEnv(lengths, limit=limit)
    stats, ep = _collect(env)
    assert env.steps_taken == 5  # stops with the slowest env, not at the limit
    assert stats.lengths.tolist() == lengths and stats.steps == 9
    assert stats.returns.tolist() == [1.0, 6.0, 15.0]  # env i pays i+1 per real step; garbage 7s dropped
    assert ep.obs.shape == (3, limit + 1, N, OBS) and ep.actions.shape == (3, limit, N)
    for i, length in enumerate(lengths):
        real = torch.arange(limit) < length
        assert torch.equal(ep.filled[i], real)
        assert torch.equal(ep.reward[i], torch.where(real, float(i + 1), 0.0))
        for t in range(limit + 1):  # observations 0..length are real (incl. the final one), then zeros
            want = 100.0 * i + t if t <= length else 0.0
            assert (ep.obs[i, t] == want).all() and (ep.state[i, t] == want).all(), (i, t)
            assert ep.avail[i, t].any() == (t <= length), (i, t)


def test_recorded_padding_is_zero_whatever_the_recording_memory_held(monkeypatch):
    """The recording starts uninitialised and only the played steps are written: the steps
    after the slowest env's end must still come back as zeros, not as what the memory held."""
    empty = torch.empty

    def dirty_empty(*args, **kwargs):
        t = empty(*args, **kwargs)
        return t.fill_(True) if t.dtype == torch.bool else t.fill_(7)

    monkeypatch.setattr(torch, "empty", dirty_empty)
    lengths, limit = [1, 3, 2], 6
    _, ep = _collect(BlockEnv(lengths, limit=limit), epsilon=0.5)
    assert not ep.actions[:, max(lengths):].any()  # an ended env's actions are kept until the last one ends
    for i, length in enumerate(lengths):
        assert not ep.reward[i, length:].any()
        assert not ep.filled[i, length:].any() and not ep.terminated[i, length:].any()
        assert not ep.obs[i, length + 1:].any() and not ep.state[i, length + 1:].any()
        assert not ep.avail[i, length + 1:].any()


@pytest.mark.parametrize("kind", ["shared", "per_agent"])
def test_a_run_plays_the_same_bits_in_a_group_as_alone(kind):
    """Run 1 of a group of 3 (its own envs, generator and slots) gets the Q-values, actions
    and recorded episode it gets alone, bit for bit, although the group's runs end at
    different steps."""
    runs, per_run = 3, 1 if kind == "shared" else N
    group_lengths = [[2, 3], [4, 1], [6, 5]]

    def recording(agents: SlotAgents, layout: SlotLayout, b: int, qs: list) -> None:
        step = agents.step

        def step_and_record(x, h):
            q, h = step(x, h)
            qs.append(layout.from_slots(q, b))
            return q, h

        agents.step = step_and_record

    group = _agents(runs * per_run)
    group.reset_parameters([torch.Generator().manual_seed(s) for s in range(runs)])
    layout = SlotLayout(kind, N, runs * per_run, runs)
    env = RunGroupEnv([BlockEnv(lengths, limit=6) for lengths in group_lengths])
    q_group: list[torch.Tensor] = []
    recording(group, layout, 2 * runs, q_group)
    gens = [torch.Generator().manual_seed(10 + s) for s in range(runs)]
    stats, ep = Runner(env, layout, torch.device("cpu")).collect(group, [0.3] * runs, gens, record=True)

    alone = group.slot_view(per_run, 2 * per_run)
    solo = SlotLayout(kind, N, per_run)
    q_alone: list[torch.Tensor] = []
    recording(alone, solo, 2, q_alone)
    gen = torch.Generator().manual_seed(11)
    stats1, ep1 = Runner(RunGroupEnv([BlockEnv(group_lengths[1], limit=6)]), solo, torch.device("cpu")).collect(
        alone, [0.3], [gen], record=True)
    mine = slice(2, 4)
    assert len(q_alone) == 4 and all(torch.equal(qg[mine], qa) for qg, qa in zip(q_group, q_alone))
    for name in ("obs", "state", "avail", "actions", "reward", "terminated", "filled"):
        assert torch.equal(getattr(ep, name)[mine], getattr(ep1, name)), name
    assert torch.equal(stats.returns[mine], stats1.returns) and torch.equal(stats.lengths[mine], stats1.lengths)


def test_won_counts_only_wins_before_an_env_ended():
    env = BlockEnv([2, 4, 3], wins=[True, False, False])  # env 1 and 2 report garbage `won` once ended
    stats, _ = _collect(env)
    assert stats.won.tolist() == [True, False, False]


@pytest.mark.parametrize("epsilon", [0.0, 0.3, 1.0])
def test_collect_never_sends_an_unavailable_action(epsilon):
    env = BlockEnv([6, 6, 4, 2], limit=6)
    for seed in range(5):  # BlockEnv.step asserts availability of every live agent's action
        _collect(env, epsilon, seed)
    assert len(env.received) > 0


def test_select_actions_is_greedy_over_available_actions_at_epsilon_zero():
    q = torch.tensor([[[9.0, 1.0, 5.0, 2.0], [0.0, 3.0, 8.0, 7.0]]])
    avail = torch.tensor([[[False, True, True, True], [True, True, False, True]]])
    assert select_actions(q, avail, 0.0, None).tolist() == [[2, 3]]  # best available, not 0 and 2
    dead = torch.zeros(1, 2, 4, dtype=torch.bool)  # a finished env's rows: nothing available
    assert select_actions(q, dead, 0.0, None).tolist() == [[0, 0]]


def test_select_actions_explores_uniformly_over_available_actions_only():
    b, n, a = 2000, 3, 5
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(b, n, a, generator=gen)
    avail = torch.rand(b, n, a, generator=gen) < 0.5
    avail[..., 4] = True  # at least one each
    greedy = select_actions(q, avail, 0.0, None)
    picked = select_actions(q, avail, 1.0, gen)
    assert avail.gather(-1, picked.unsqueeze(-1)).all()
    # with three of five actions always available, random picks spread evenly over them
    only = torch.zeros(b, n, a, dtype=torch.bool)
    only[..., 1:4] = True
    counts = torch.bincount(select_actions(q, only, 1.0, gen).flatten(), minlength=a)
    assert counts[0] == counts[4] == 0 and (counts[1:4] - b * n / 3).abs().max() < 0.1 * b * n / 3
    half = select_actions(q, avail, 0.5, gen)  # per-agent coins: about half the agents differ from greedy
    explored = (half != greedy).float().mean()
    assert avail.gather(-1, half.unsqueeze(-1)).all() and 0.2 < explored < 0.5


def test_every_agent_draws_its_own_exploration_coin():
    """docs/design.md §3 deviation from the authors (one coin per team). Two agents, actions {0, 1}
    available, greedy 0, epsilon 0.5: each picks 1 with probability 1/4 either way, but both
    do so in 1/16 of the envs with independent coins and in 1/8 with a shared one."""
    b = 4000
    q = torch.tensor([1.0, 0.0, 0.0]).expand(b, 2, 3)
    avail = torch.tensor([True, True, False]).expand(b, 2, 3)
    picked = select_actions(q, avail, 0.5, torch.Generator().manual_seed(1))
    assert abs(float((picked == 1).float().mean()) - 0.25) < 0.03
    assert abs(float((picked == 1).all(dim=1).float().mean()) - 1 / 16) < 0.02


def test_epsilon_anneals_linearly_then_holds():
    assert epsilon_at(0, 1.0, 0.05, 1000) == 1.0
    assert epsilon_at(500, 1.0, 0.05, 1000) == pytest.approx(0.525)
    assert epsilon_at(1000, 1.0, 0.05, 1000) == pytest.approx(0.05)
    assert epsilon_at(10**9, 1.0, 0.05, 1000) == pytest.approx(0.05)
    values = [epsilon_at(s, 0.8, 0.1, 300) for s in range(0, 400, 10)]
    assert all(x >= y for x, y in zip(values, values[1:]))


def test_swap_scores_map_env_block_g_to_agent_gs_network():
    """Slot g's network always picks action g (its head is a constant bias), and a step pays
    the mean action taken in that env: block g must score g per step, whichever block it is."""
    slots, per_agent, length = N, 3, 4
    agents = _agents(n_slots=slots)
    with torch.no_grad():
        agents.fc2.weight.zero_()
        agents.fc2.bias.fill_(-1.0)
        for g in range(slots):
            agents.fc2.bias[g, g + 1] = 1.0  # slot g picks g + 1: never 0, the dead-row fallback
    env = BlockEnv([length] * slots * per_agent, limit=6,
                   reward_of=lambda actions: actions.float().mean(dim=1))
    env.avail = lambda: torch.ones(env.n_envs, N, A, dtype=torch.bool)
    runner = Runner(env, swap_layout_agents(agents), torch.device("cpu"))
    scores, steps = swap_scores(runner, agents, per_agent)
    assert scores.tolist() == [float(length * (g + 1)) for g in range(slots)]
    assert steps == slots * per_agent * length
    first = env.received[0]  # env block g, every agent in it, played slot g's action
    assert first.tolist() == [[g + 1] * N for g in range(slots) for _ in range(per_agent)]
