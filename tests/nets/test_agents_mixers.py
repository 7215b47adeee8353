"""Slot-stacked agents equal separate modules; VDN sums; QMIX is monotone in every agent's Q."""

import pytest
import torch

from pps.nets.agents import RNNAgent, SlotAgents, SlotLayout, agent_from_slot
from pps.nets.mixers import QMixer, VDNMixer


def make_agents(n_slots: int, seed: int = 0) -> SlotAgents:
    agents = SlotAgents(n_slots, input_dim=11, hidden=16, n_actions=5)
    agents.reset_parameters(torch.Generator().manual_seed(seed))
    return agents


def test_slot_step_equals_separate_modules_for_every_agent():
    n, b = 4, 6
    agents = make_agents(n)
    layout = SlotLayout("per_agent", n, n)
    x, h = torch.randn(b, n, 11), torch.randn(b, n, 16)
    q, h_new = agents.step(layout.to_slots(x), layout.to_slots(h))
    q, h_new = layout.from_slots(q, b), layout.from_slots(h_new, b)
    for i in range(n):
        ref = agent_from_slot(agents, i)
        q_ref, h_ref = ref(x[:, i], h[:, i])
        torch.testing.assert_close(q[:, i], q_ref, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(h_new[:, i], h_ref, rtol=1e-5, atol=1e-6)


def test_unroll_equals_stepping_separate_modules_through_time():
    n, b, t = 3, 5, 7
    agents = make_agents(n, seed=1)
    layout = SlotLayout("per_agent", n, n)
    x = torch.randn(b, n, t, 11)
    q = layout.from_slots(agents.unroll(layout.to_slots(x)), b)  # [B, N, T, A]
    for i in range(n):
        ref = agent_from_slot(agents, i)
        h = torch.zeros(b, 16)
        for step in range(t):
            q_ref, h = ref(x[:, i, step], h)
            torch.testing.assert_close(q[:, i, step], q_ref, rtol=1e-5, atol=1e-5)


def test_load_slot_round_trips_a_plain_module():
    agents = make_agents(3)
    other = RNNAgent(11, 16, 5)
    agents.load_slot(2, other)
    for name, p in other.named_parameters():
        assert torch.equal(agents.slot_state_dict(2)[name], p.detach())


def test_shared_layout_runs_every_agent_with_the_one_slot():
    n, b = 3, 4
    agents = make_agents(1)
    layout = SlotLayout("shared", n, 1)
    x, h = torch.randn(b, n, 11), torch.zeros(b, n, 16)
    q, _ = agents.step(layout.to_slots(x), layout.to_slots(h))
    q = layout.from_slots(q, b)
    ref = agent_from_slot(agents, 0)
    for i in range(n):
        torch.testing.assert_close(q[:, i], ref(x[:, i], h[:, i])[0], rtol=1e-5, atol=1e-6)


def test_per_env_group_layout_plays_block_g_with_slot_g():
    n, e = 3, 2
    agents = make_agents(n, seed=2)
    layout = SlotLayout("per_env_group", n, n)
    x, h = torch.randn(n * e, n, 11), torch.zeros(n * e, n, 16)
    q, _ = agents.step(layout.to_slots(x), layout.to_slots(h))
    q = layout.from_slots(q, n * e)
    for g in range(n):
        ref = agent_from_slot(agents, g)
        for env in range(g * e, (g + 1) * e):
            torch.testing.assert_close(q[env], ref(x[env], h[env])[0], rtol=1e-5, atol=1e-6)


def test_orthogonal_init_differs_between_slots_and_is_orthogonal():
    agents = make_agents(2)
    w = agents.rnn.weight_hh.detach()  # [2, 48, 16]: columns orthonormal
    torch.testing.assert_close(w[0].T @ w[0], torch.eye(16), atol=1e-5, rtol=0)
    assert not torch.equal(w[0], w[1])
    assert torch.count_nonzero(agents.fc1.bias) == 0


def test_vdn_is_the_sum_of_agent_values():
    qs = torch.tensor([[[1.0, 2.0, -0.5], [0.0, 0.0, 3.0]]])
    assert torch.equal(VDNMixer()(qs, torch.zeros(1, 2, 4)), torch.tensor([[2.5, 3.0]]))


def test_qmix_is_monotone_in_every_agent_q():
    torch.manual_seed(0)
    for hypernet_layers in (1, 2):
        mixer = QMixer(n_agents=5, state_dim=12, embed=8, hypernet_hidden=16, hypernet_layers=hypernet_layers)
        qs = torch.randn(64, 10, 5, requires_grad=True)
        states = torch.randn(64, 10, 12)
        mixer(qs, states).sum().backward()
        assert (qs.grad >= 0).all()
        assert (qs.grad > 0).any()


def test_qmix_output_shape_and_state_dependence():
    mixer = QMixer(n_agents=3, state_dim=4)
    qs = torch.randn(2, 6, 3)
    out_a, out_b = mixer(qs, torch.zeros(2, 6, 4)), mixer(qs, torch.ones(2, 6, 4))
    assert out_a.shape == (2, 6)
    assert not torch.allclose(out_a, out_b)


@pytest.mark.exactness
@pytest.mark.parametrize("kind", ["shared", "per_agent"])
@pytest.mark.parametrize("n, b, d_in, a", [(3, 8, 40, 9), (27, 8, 800, 35)])  # 27: SMAX 27m_vs_30m's sizes
def test_an_acting_step_gives_a_run_the_same_bits_in_a_group_as_alone(kind, n, b, d_in, a):
    """What the runner computes per step (its input slotted, `SlotAgents.step`, Qs back in env
    order) for run 1 of a group of 3 equals run 1 alone, bit for bit."""
    runs, hidden = 3, 64
    per_run = 1 if kind == "shared" else n
    g = torch.Generator().manual_seed(7)
    group = SlotAgents(runs * per_run, d_in, hidden, a)
    with torch.no_grad():  # random weights of a sane scale (an orthogonal init of 81 slots is slow)
        for p in group.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / d_in ** 0.5)
    alone = group.slot_view(per_run, 2 * per_run)
    obs, last = torch.randn(runs * b, n, d_in - a - n, generator=g), torch.randn(runs * b, n, a, generator=g)
    ids = torch.eye(n).expand(runs * b, n, n)
    h0 = torch.randn(runs * b, n, hidden, generator=g)
    grouped, solo = SlotLayout(kind, n, runs * per_run, runs), SlotLayout(kind, n, per_run)
    mine = slice(b, 2 * b)
    with torch.no_grad():
        q_group, h_group = group.step(grouped.to_slots(torch.cat([obs, last, ids], dim=-1)), grouped.to_slots(h0))
        q_solo, h_solo = alone.step(solo.to_slots(torch.cat([obs, last, ids], dim=-1)[mine]), solo.to_slots(h0[mine]))
    assert torch.equal(grouped.from_slots(q_group, runs * b)[mine], solo.from_slots(q_solo, b))
    assert torch.equal(grouped.from_slots(h_group, runs * b)[mine], solo.from_slots(h_solo, b))
