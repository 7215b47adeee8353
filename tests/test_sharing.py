"""Every aggregation rule against a hand computation."""

import math

import torch

from pps.methods import METHODS
from pps.nets.agents import SlotAgents
from pps.sharing import Aggregator, reward_weights, sharing_groups, uniform_weights
from pps.slot_optimizer import SlotOptimizer


def agents_with_slot_values(values: list[float]) -> SlotAgents:
    """Slot s holds the constant values[s] in every parameter: means are easy to compute by hand."""
    agents = SlotAgents(len(values), input_dim=3, hidden=4, n_actions=2)
    with torch.no_grad():
        for p in agents.parameters():
            for s, v in enumerate(values):
                p[s].fill_(v)
    return agents


def test_groups_by_unit_type_and_all():
    assert sharing_groups([0, 0, 1, 1, 1], "unit_type") == [[0, 1], [2, 3, 4]]
    assert sharing_groups([2, 0, 2], "unit_type") == [[0, 2], [1]]
    assert sharing_groups([0, 1, 2], "all") == [[0, 1, 2]]


def test_a_pps_sets_each_group_to_its_exact_mean():
    agents = agents_with_slot_values([1.0, 3.0, 10.0, 20.0, 60.0])
    groups = sharing_groups([0, 0, 1, 1, 1], "unit_type")
    agg = Aggregator(METHODS["a-pps"], groups, ())
    agg.apply(agents, None, agg.weights(5, None, 1.0))
    for p in agents.parameters():
        assert torch.all(p[0] == 2.0) and torch.all(p[1] == 2.0)
        assert torch.all(p[2] == 30.0) and torch.all(p[3] == 30.0) and torch.all(p[4] == 30.0)


def test_a_pps_on_random_slots_equals_mean_element_for_element():
    agents = SlotAgents(4, input_dim=7, hidden=8, n_actions=3)
    agents.reset_parameters(torch.Generator().manual_seed(3))
    before = {n: p.detach().clone() for n, p in agents.named_parameters()}
    agg = Aggregator(METHODS["a-pps"], [[0, 1, 2, 3]], ())
    agg.apply(agents, None, agg.weights(4, None, 1.0))
    for name, p in agents.named_parameters():
        mean = before[name].double().mean(dim=0).float()
        for s in range(4):
            assert torch.equal(p[s], p[0])
        torch.testing.assert_close(p[0], mean, rtol=0, atol=1e-7)


def test_rs_weights_are_a_softmax_of_scores_within_each_group():
    scores = torch.tensor([1.0, 2.0, 0.5, 0.5, 3.0])
    w = reward_weights(scores, [[0, 1], [2, 3, 4]], temperature=0.5)
    e = [math.exp(2.0), math.exp(4.0)]
    assert math.isclose(w[0].item(), e[0] / sum(e), rel_tol=1e-12)
    assert math.isclose(w[1].item(), e[1] / sum(e), rel_tol=1e-12)
    e2 = [math.exp(1.0), math.exp(1.0), math.exp(6.0)]
    for i, idx in enumerate((2, 3, 4)):
        assert math.isclose(w[idx].item(), e2[i] / sum(e2), rel_tol=1e-12)


def test_rs_pps_applies_reward_weighted_mean():
    agents = agents_with_slot_values([0.0, 10.0])
    agg = Aggregator(METHODS["rs-pps"], [[0, 1]], ())
    scores = torch.tensor([0.0, math.log(3.0)])  # softmax -> weights 1/4, 3/4
    agg.apply(agents, None, agg.weights(2, scores, temperature=1.0))
    for p in agents.parameters():
        torch.testing.assert_close(p, torch.full_like(p, 7.5))


def test_pp_pps_averages_only_the_listed_layers():
    agents = agents_with_slot_values([2.0, 4.0])
    shared = ("fc1.weight", "fc1.bias", "rnn.weight_ih", "rnn.weight_hh")
    agg = Aggregator(METHODS["pp-pps"], [[0, 1]], shared)
    agg.apply(agents, None, agg.weights(2, None, 1.0))
    for name, p in agents.named_parameters():
        if name in shared:
            assert torch.all(p == 3.0), name
        else:
            assert torch.all(p[0] == 2.0) and torch.all(p[1] == 4.0), name


def test_opposite_pp_split_is_one_list_away():
    agents = agents_with_slot_values([2.0, 4.0])
    agg = Aggregator(METHODS["pp-pps"], [[0, 1]], ("fc2.weight", "fc2.bias"))
    agg.apply(agents, None, agg.weights(2, None, 1.0))
    assert torch.all(agents.fc2.weight == 3.0)
    assert torch.all(agents.fc1.weight[0] == 2.0)


def test_unknown_pp_layer_is_rejected():
    agents = agents_with_slot_values([1.0, 2.0])
    agg = Aggregator(METHODS["pp-pps"], [[0, 1]], ("fc9.weight",))
    try:
        agg.parameter_names(agents)
    except ValueError as err:
        assert "fc9.weight" in str(err) and "fc1.weight" in str(err)
    else:
        raise AssertionError("expected ValueError")


def _adam_with_state(agents: SlotAgents) -> SlotOptimizer:
    opt = SlotOptimizer(torch.optim.Adam(agents.parameters(), lr=0.1))
    with torch.no_grad():
        for p in agents.parameters():
            p.grad = torch.zeros_like(p)
    opt.step()
    for p in agents.parameters():
        state = opt.optimizer.state[p]
        for s in range(p.shape[0]):
            state["exp_avg"][s].fill_(float(s + 1))
            state["exp_avg_sq"][s].fill_(float(10 * (s + 1)))
    return opt


def test_optimizer_policy_keep_leaves_moments_alone():
    agents = agents_with_slot_values([1.0, 2.0, 3.0])
    opt = _adam_with_state(agents)
    agg = Aggregator(METHODS["a-pps"], [[0, 1], [2]], (), "keep")
    agg.apply(agents, opt, agg.weights(3, None, 1.0))
    m = opt.optimizer.state[agents.fc1.weight]["exp_avg"]
    assert torch.all(m[0] == 1.0) and torch.all(m[1] == 2.0) and torch.all(m[2] == 3.0)


def test_optimizer_policy_average_mixes_moments_like_parameters():
    agents = agents_with_slot_values([1.0, 2.0, 3.0])
    opt = _adam_with_state(agents)
    agg = Aggregator(METHODS["a-pps"], [[0, 1], [2]], (), "average")
    agg.apply(agents, opt, agg.weights(3, None, 1.0))
    st = opt.optimizer.state[agents.rnn.weight_hh]
    assert torch.all(st["exp_avg"][:2] == 1.5) and torch.all(st["exp_avg"][2] == 3.0)
    assert torch.all(st["exp_avg_sq"][:2] == 15.0) and torch.all(st["exp_avg_sq"][2] == 30.0)


def test_optimizer_policy_reset_zeroes_aggregated_slots_only():
    agents = agents_with_slot_values([1.0, 2.0, 3.0])
    opt = _adam_with_state(agents)
    agg = Aggregator(METHODS["pp-pps"], [[0, 1], [2]], ("fc1.weight",), "reset")
    agg.apply(agents, opt, agg.weights(3, None, 1.0))
    st = opt.optimizer.state[agents.fc1.weight]
    assert torch.all(st["exp_avg"][:2] == 0) and torch.all(st["exp_avg_sq"][:2] == 0)
    assert torch.all(st["exp_avg"][2] == 3.0)  # a group of one is never aggregated
    untouched = opt.optimizer.state[agents.fc2.weight]  # personal layer under PP-PPS
    assert torch.all(untouched["exp_avg"][0] == 1.0)


def test_uniform_weights_sum_to_one_per_group():
    w = uniform_weights(5, [[0, 1], [2, 3, 4]])
    assert torch.allclose(w, torch.tensor([0.5, 0.5, 1 / 3, 1 / 3, 1 / 3], dtype=torch.float64))


def test_smacv2_maps_draw_unit_types_per_episode_so_unit_type_groups_are_all_agents():
    """On smacv2_* maps the unit type behind agent slot i changes every episode, so a
    per-type group would change between aggregations; `unit_type` grouping is therefore one
    group of every agent there (the same as `all`), and fixed per-type groups elsewhere."""
    from pps.envs.registry import map_spec

    for name, n in (("smacv2_5_units", 5), ("smacv2_10_units", 10), ("smacv2_20_units", 20)):
        spec = map_spec("smax", name)
        one_group = [list(range(n))]
        assert sharing_groups(spec.unit_types, "unit_type") == one_group == sharing_groups(spec.unit_types, "all")
    assert sharing_groups(map_spec("smax", "2s3z").unit_types, "unit_type") == [[0, 1], [2, 3, 4]]
