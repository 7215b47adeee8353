"""Replay-buffer masks and storage; TD targets and the learner's loss on hand-made episodes."""

import torch

from pps.buffer import EpisodeBatch, ReplayBuffer
from pps.learner import Learner, LearnerConfig, build_agent_inputs, td_lambda_targets
from pps.nets.agents import SlotAgents, SlotLayout
from pps.nets.mixers import VDNMixer


def episodes(lengths: list[int], limit: int = 5, n: int = 2, obs_dim: int = 3, a: int = 4,
             terminal: bool = True) -> EpisodeBatch:
    b = len(lengths)
    gen = torch.Generator().manual_seed(0)
    batch = EpisodeBatch(
        obs=torch.zeros(b, limit + 1, n, obs_dim), state=torch.zeros(b, limit + 1, 6),
        avail=torch.zeros(b, limit + 1, n, a, dtype=torch.bool), actions=torch.zeros(b, limit, n, dtype=torch.long),
        reward=torch.zeros(b, limit), terminated=torch.zeros(b, limit, dtype=torch.bool),
        filled=torch.zeros(b, limit, dtype=torch.bool))
    for i, length in enumerate(lengths):
        batch.obs[i, : length + 1] = torch.rand(length + 1, n, obs_dim, generator=gen) * 2 - 1
        batch.state[i, : length + 1] = torch.rand(length + 1, 6, generator=gen)
        batch.avail[i, : length + 1] = True
        batch.actions[i, :length] = torch.randint(0, a, (length, n), generator=gen)
        batch.reward[i, :length] = 1.0
        batch.filled[i, :length] = True
        batch.terminated[i, length - 1] = terminal and length < limit
    return batch


def test_buffer_keeps_masks_and_binary_data_exactly_and_obs_within_float16():
    buf = ReplayBuffer(10, episode_limit=5, n_agents=2, obs_dim=3, state_dim=6, n_actions=4, compact=True)
    src = episodes([2, 5, 3])
    buf.insert(src)
    assert len(buf) == 3
    out = buf.sample(3)
    order = out.filled.sum(1).tolist()
    idx = [[2, 5, 3].index(int(x)) for x in order]
    t = max(order)
    assert out.filled.shape[1] == t == 5  # truncated to the longest sampled episode
    for k, i in enumerate(idx):
        assert torch.equal(out.filled[k], src.filled[i, :t])
        assert torch.equal(out.terminated[k], src.terminated[i, :t])
        assert torch.equal(out.avail[k], src.avail[i, : t + 1])
        assert torch.equal(out.actions[k], src.actions[i, :t])
        torch.testing.assert_close(out.obs[k], src.obs[i, : t + 1], atol=1e-3, rtol=1e-3)
    assert buf.storage["obs"].dtype == torch.float16 and buf.storage["avail"].dtype == torch.bool


def test_buffer_masks_mark_real_steps_and_only_real_terminals():
    b = episodes([2, 5])
    assert b.filled[0].tolist() == [True, True, False, False, False]
    assert b.terminated[0].tolist() == [False, True, False, False, False]
    assert not b.terminated[1].any()  # ran into the time limit: not a terminal


def test_compact_buffer_is_under_half_of_float32():
    args = dict(capacity=4, episode_limit=100, n_agents=8, obs_dim=205, state_dim=192, n_actions=13)
    compact, full = ReplayBuffer(**args, compact=True), ReplayBuffer(**args, compact=False)
    assert compact.bytes_per_episode() <= 0.5 * full.bytes_per_episode()


def test_ring_buffer_overwrites_oldest_and_samples_distinct_episodes():
    buf = ReplayBuffer(3, episode_limit=5, n_agents=2, obs_dim=3, state_dim=6, n_actions=4)
    buf.insert(episodes([1, 2]))
    buf.insert(episodes([3, 4]))
    assert len(buf) == 3 and buf.position == 1
    lengths = sorted(buf.storage["filled"][:3].sum(1).tolist())
    assert lengths == [2, 3, 4]  # the length-1 episode was overwritten
    sample = buf.sample(3)
    assert sorted(sample.filled.sum(1).tolist()) == [2, 3, 4]


def test_buffer_state_dict_round_trip_continues_identically():
    a = ReplayBuffer(8, episode_limit=5, n_agents=2, obs_dim=3, state_dim=6, n_actions=4, seed=3)
    a.insert(episodes([2, 5, 3, 4]))
    a.sample(2)
    b = ReplayBuffer(8, episode_limit=5, n_agents=2, obs_dim=3, state_dim=6, n_actions=4, seed=99)
    b.load_state_dict(a.state_dict())
    x, y = a.sample(3), b.sample(3)
    assert torch.equal(x.obs, y.obs) and torch.equal(x.actions, y.actions)


def test_one_step_targets_by_hand():
    r = torch.tensor([[1.0, 2.0, 3.0]])
    term = torch.tensor([[False, False, True]])
    filled = torch.ones(1, 3, dtype=torch.bool)
    v = torch.tensor([[10.0, 20.0, 30.0]])
    out = td_lambda_targets(r, term, filled, v, gamma=0.5, td_lambda=0.0)
    assert torch.allclose(out, torch.tensor([[1 + 5.0, 2 + 10.0, 3.0]]))


def test_td_lambda_targets_by_hand():
    r = torch.tensor([[1.0, 2.0, 3.0, 0.0]])
    term = torch.tensor([[False, False, False, False]])
    filled = torch.tensor([[True, True, True, False]])  # the episode was truncated after 3 steps
    v = torch.tensor([[10.0, 20.0, 30.0, 99.0]])
    g, lam = 0.5, 0.5
    g2 = 3.0 + g * 30.0  # last real step bootstraps from V
    g1 = 2.0 + g * ((1 - lam) * 20.0 + lam * g2)
    g0 = 1.0 + g * ((1 - lam) * 10.0 + lam * g1)
    out = td_lambda_targets(r, term, filled, v, gamma=g, td_lambda=lam)
    assert torch.allclose(out[0, :3], torch.tensor([g0, g1, g2]))


def test_agent_inputs_hold_previous_action_and_id():
    obs = torch.zeros(1, 3, 2, 1)
    actions = torch.tensor([[[1, 0], [2, 2], [0, 0]]])
    x = build_agent_inputs(obs, actions, n_actions=3)
    assert x[0, 0, :, 1:4].sum() == 0  # no previous action at t=0
    assert x[0, 1, 0, 1:4].tolist() == [0, 1, 0] and x[0, 2, 1, 1:4].tolist() == [0, 0, 1]
    assert x[0, 2, 1, 4:].tolist() == [0, 1]


def _learner(layout_kind: str = "per_agent", gamma: float = 0.99) -> Learner:
    n_slots = 2 if layout_kind == "per_agent" else 1
    agents = SlotAgents(n_slots, input_dim=3 + 4 + 2, hidden=8, n_actions=4)
    agents.reset_parameters(torch.Generator().manual_seed(0))
    cfg = LearnerConfig(gamma=gamma, lr=1e-2, optimizer="adam", grad_clip=10.0, double_q=True, td_lambda=0.0,
                        target_update_interval=3, reward_scale=1.0)
    return Learner(agents, SlotLayout(layout_kind, 2, n_slots), VDNMixer(), cfg)


def test_padded_steps_do_not_change_the_loss():
    learner = _learner()
    short = episodes([2])
    padded = episodes([2])
    padded.obs[:, 3:] = 123.0  # garbage beyond the episode must be masked out
    padded.reward[:, 2:] = 55.0
    truncate = EpisodeBatch(short.obs[:, :3], short.state[:, :3], short.avail[:, :3], short.actions[:, :2],
                            short.reward[:, :2], short.terminated[:, :2], short.filled[:, :2])
    torch.testing.assert_close(learner.loss(padded), learner.loss(truncate))


def test_learner_reduces_loss_and_hard_updates_targets_on_schedule():
    learner = _learner("shared", gamma=0.0)  # gamma 0: a fixed regression target, so the loss must fall
    batch = episodes([3, 5, 4])
    first = learner.update(batch)
    for _ in range(60):
        last = learner.update(batch)
    assert last < first
    assert learner.updates == 61
    # 61 = 20*3 + 1: the targets were copied at update 60 and one update happened since
    agents = learner.agents.state_dict()
    targets = learner.target_agents.state_dict()
    assert any(not torch.equal(agents[k], targets[k]) for k in agents)
    learner.update_targets()
    assert all(torch.equal(agents[k], learner.target_agents.state_dict()[k]) for k in agents)
