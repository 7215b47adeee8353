"""Replay-buffer masks and storage; TD targets and the learner's loss on hand-made episodes."""

import torch

from pps.buffer import EpisodeBatch, ReplayBuffer
from pps.learner import Learner, LearnerConfig, build_agent_inputs, td_lambda_targets
from pps.nets.agents import SlotAgents, SlotLayout
from pps.nets.mixers import QMixer, VDNMixer


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
    out = buf.sample(3).to_learner(torch.device("cpu"))
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
    """What the learner reads back from the buffer, against lengths alone: `filled` on exactly
    an episode's real steps and `terminated` only on the last step of one that ended before
    the limit (not on a time-limit one). The slots held longer, terminal episodes before, so
    flags of the overwritten episodes must not survive."""
    limit = 5
    buf = ReplayBuffer(3, episode_limit=limit, n_agents=2, obs_dim=3, state_dim=6, n_actions=4)
    old = episodes([4, 4, 4])
    old.reward[:] = 5.0
    buf.insert(old)
    lengths = [2, 5, 3]
    new = episodes(lengths)
    new.obs[:, 0] = torch.tensor([10.0, 20.0, 30.0]).view(3, 1, 1)  # tells the sampled rows apart
    buf.insert(new)
    out = buf.sample(3)
    assert out.filled.shape == (3, limit)  # the longest sampled episode is the whole limit
    for k in range(3):
        length = lengths[int(out.obs[k, 0, 0, 0]) // 10 - 1]
        steps = torch.arange(limit)
        assert out.filled[k].tolist() == (steps < length).tolist()
        assert out.terminated[k].tolist() == ((steps == length - 1) & (length < limit)).tolist()
        assert out.reward[k].tolist() == (steps < length).float().tolist()
        assert not out.avail[k, length + 1:].any() and out.avail[k, : length + 1].all()


def test_a_sample_keeps_the_stored_dtypes_until_the_learner_widens_it_exactly():
    """A sample crosses to the learner's device as stored (float16, uint8, bool: what a GPU
    copy moves); `to_learner` widens it to float32, int64 and bool, values unchanged."""
    for compact in (True, False):
        buf = ReplayBuffer(10, episode_limit=5, n_agents=2, obs_dim=3, state_dim=6, n_actions=4, compact=compact)
        buf.insert(episodes([2, 5, 3]))
        stored = buf.sample(3)
        for name in ("obs", "state", "avail", "actions", "reward", "terminated", "filled"):
            assert getattr(stored, name).dtype == buf.storage[name].dtype, (compact, name)
        wide = stored.to_learner(torch.device("cpu"))
        assert (wide.obs.dtype, wide.state.dtype, wide.reward.dtype) == (torch.float32,) * 3
        assert (wide.avail.dtype, wide.terminated.dtype, wide.filled.dtype) == (torch.bool,) * 3
        assert wide.actions.dtype == torch.int64
        for name in ("obs", "state", "avail", "actions", "reward", "terminated", "filled"):
            assert torch.equal(getattr(wide, name).double(), getattr(stored, name).double()), (compact, name)


def test_compact_buffer_is_under_half_of_float32():
    args = dict(capacity=4, episode_limit=100, n_agents=8, obs_dim=205, state_dim=192, n_actions=13)
    compact, full = ReplayBuffer(**args, compact=True), ReplayBuffer(**args, compact=False)
    assert compact.bytes_per_episode() <= 0.5 * full.bytes_per_episode()


def test_ring_buffer_overwrites_oldest_and_samples_distinct_episodes():
    buf = ReplayBuffer(3, episode_limit=5, n_agents=2, obs_dim=3, state_dim=6, n_actions=4)
    buf.insert(episodes([1, 2]))
    buf.insert(episodes([3, 4]))
    assert len(buf) == 3 and buf.position == 1
    lengths = sorted(buf.storage["filled"][0, :3].sum(1).tolist())
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


def _learner(layout_kind: str = "per_agent", gamma: float = 0.99, mixer: torch.nn.Module | None = None) -> Learner:
    n_slots = 2 if layout_kind == "per_agent" else 1
    agents = SlotAgents(n_slots, input_dim=3 + 4 + 2, hidden=8, n_actions=4)
    agents.reset_parameters(torch.Generator().manual_seed(0))
    cfg = LearnerConfig(gamma=gamma, lr=1e-2, optimizer="adam", grad_clip=10.0, double_q=True, td_lambda=0.0,
                        target_update_interval=3, reward_scale=1.0)
    return Learner(agents, SlotLayout(layout_kind, 2, n_slots), mixer or VDNMixer(), cfg)


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
    """gamma 0 makes the target a fixed regression target, so the loss must fall. The target
    agents and target QMIX mixer are copied from the online ones at the end of every 3rd
    update (target_update_interval 3) and stay exactly as copied in between."""
    torch.manual_seed(0)
    learner = _learner("shared", gamma=0.0, mixer=QMixer(2, 6, embed=4, hypernet_hidden=8))
    batch = episodes([3, 5, 4])

    def online() -> dict[str, torch.Tensor]:
        return {**{f"agents.{k}": v.clone() for k, v in learner.agents.state_dict().items()},
                **{f"mixer.{k}": v.clone() for k, v in learner.mixer.state_dict().items()}}

    def targets() -> dict[str, torch.Tensor]:
        return {**{f"agents.{k}": v for k, v in learner.target_agents.state_dict().items()},
                **{f"mixer.{k}": v for k, v in learner.target_mixer.state_dict().items()}}

    def same(a: dict, b: dict) -> bool:
        return all(torch.equal(a[k], b[k]) for k in a)

    copied = online()  # the targets start as copies of the online networks
    assert same(targets(), copied)
    losses = []
    for update in range(1, 62):
        losses.append(learner.update(batch)[0])
        now = online()
        if update % 3 == 0:
            copied = now
        assert same(targets(), copied), f"targets after update {update}"
        if update % 3:
            assert not same(targets(), now), f"update {update} copied the targets off schedule"
    assert learner.updates == 61
    assert losses[-1] < 0.5 * losses[0]
