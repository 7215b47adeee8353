"""Packing a batch's real rows (`pps.nets.active_rows`) and the learner that computes only them.

Three promises: packing is a pure re-indexing (its rows come back where they were); the
learner's loss on packed rows is the loss of the unpacked computation (the same maths; the
last bits may differ, since rows share other chunks); and a run's loss and gradient bits do
not depend on the group it trains in, even where the runs' episodes differ in length so
that their slots pack different row counts and the shorter ones get filler rows.
"""

from __future__ import annotations

import pytest
import torch

from pps.buffer import EpisodeBatch
from pps.learner import Learner, LearnerConfig, build_agent_inputs, td_lambda_targets
from pps.nets.active_rows import ActiveRows
from pps.nets.agents import SlotAgents, SlotLayout
from pps.nets.mixers import make_mixer
from pps.nets.row_sums import ROW_CHUNK

pytestmark = pytest.mark.usefixtures("one_thread")

N, A, OBS, STATE, HIDDEN = 3, 5, 7, 9, 16
CFG = LearnerConfig(gamma=0.99, lr=5e-4, optimizer="adam", grad_clip=10.0, double_q=True, td_lambda=0.0,
                    target_update_interval=10, reward_scale=1.0)


def test_packing_keeps_each_slots_active_rows_in_time_major_order_and_unpacking_restores_them():
    active = torch.tensor([[1, 0, 1, 1, 0, 0], [0, 1, 0, 0, 0, 0]], dtype=torch.bool)
    rows = ActiveRows.from_mask(active)
    assert rows.packed == ROW_CHUNK and rows.counts.tolist() == [3, 1]  # whole chunks: SlotAffine copies nothing
    x = torch.arange(12.0).view(2, 6, 1) + 100
    packed = rows.pack(x)[..., 0]
    assert packed[0, :3].tolist() == [100.0, 102.0, 103.0]
    assert packed[0, 3:6].tolist() == [101.0, 104.0, 105.0]  # filler: slot 0's inactive rows, in order
    assert packed[1, :6].tolist() == [107.0, 106.0, 108.0, 109.0, 110.0, 111.0]
    assert bool((packed[:, 6:] == packed[:, 5:6]).all())  # past the slot's rows, its last one repeats
    back = rows.unpack(rows.pack(x)).view(2, 6)
    assert torch.equal(back[active], x.view(2, 6)[active])
    assert rows.keep()[:, :4].tolist() == [[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]]
    assert rows.keep().sum().item() == 4 and rows.fraction == pytest.approx(4 / 12)


def test_packing_through_another_layout_reads_and_writes_that_layout_directly():
    x = torch.randn(4, 3, 2)  # [B, T, f] in batch order; slots: 2 runs of 2 envs, time-major
    active = torch.rand(4, 3) > 0.4
    slot_order = lambda y: y.reshape(2, 2, 3, *y.shape[2:]).transpose(1, 2).reshape(2, 6, *y.shape[2:])  # noqa: E731
    rows = ActiveRows.from_mask(slot_order(active))
    direct = rows.through(slot_order(torch.arange(12).view(4, 3)).reshape(-1))
    assert torch.equal(direct.pack(x), rows.pack(slot_order(x)))
    assert torch.equal(direct.unpack(direct.pack(x)).view(4, 3, 2)[active], x[active])


def test_unroll_of_every_row_equals_unroll_of_active_rows_where_they_are_active():
    """A row (an env's agent) is active from step 0 to its episode's end, as in the learner."""
    agents = SlotAgents(2, 6, 8, 4)
    agents.reset_parameters(torch.Generator().manual_seed(0))
    x = torch.randn(2, 5, 7, 6)  # [S, M, T, in]
    full = agents.unroll(x)  # [S, M, T, A]
    ends = torch.randint(0, 7, (2, 1, 5))
    active = torch.arange(7).view(1, 7, 1) <= ends  # [S, T, M]
    rows = ActiveRows.from_mask(active.reshape(2, -1))
    q = rows.unpack(agents.unroll_active(rows.pack(x.transpose(1, 2)), rows, 7)).view(2, 7, 5, 4)
    torch.testing.assert_close(q[active], full.transpose(1, 2)[active], rtol=1e-6, atol=1e-6)


def random_batch(b: int, t: int, lengths: torch.Tensor, seed: int) -> EpisodeBatch:
    """Episodes of the given lengths in a batch of `t` steps, zero-padded as the buffer stores them."""
    g = torch.Generator().manual_seed(seed)
    filled = torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1)
    steps = (torch.arange(t + 1).unsqueeze(0) <= lengths.unsqueeze(1)).float()
    terminated = torch.zeros(b, t, dtype=torch.bool)
    terminated[torch.arange(b), (lengths - 1).clamp(min=0)] = torch.rand(b, generator=g) < 0.5
    avail = torch.rand(b, t + 1, N, A, generator=g) > 0.3
    avail[..., 0] = True  # every agent can always do something (no-op)
    return EpisodeBatch(obs=torch.randn(b, t + 1, N, OBS, generator=g) * steps[..., None, None],
                        state=torch.randn(b, t + 1, STATE, generator=g) * steps[..., None],
                        avail=avail,
                        actions=torch.randint(0, A, (b, t, N), generator=g) * filled.unsqueeze(-1),
                        reward=torch.randn(b, t, generator=g) * filled, terminated=terminated & filled,
                        filled=filled)


def make_learner(kind: str, mixer: str, seeds: list[int], td_lambda: float = 0.0, double_q: bool = True,
                 reward_scale: float = 1.0) -> Learner:
    r = len(seeds)
    n_slots = r if kind == "shared" else r * N
    agents = SlotAgents(n_slots, OBS + A + N, HIDDEN, A)
    agents.reset_parameters([torch.Generator().manual_seed(s) for s in seeds])
    cfg = LearnerConfig(**{**CFG.__dict__, "td_lambda": td_lambda, "double_q": double_q,
                           "reward_scale": reward_scale})
    learner = Learner(agents, SlotLayout(kind, N, n_slots, r), make_mixer(mixer, N, STATE, 8, 16, 2, seeds), cfg)
    with torch.no_grad():  # targets that differ from the online networks, as after training
        for p in list(learner.target_agents.parameters()) + list(learner.target_mixer.parameters()):
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    return learner


def unpacked_loss(learner: Learner, batch: EpisodeBatch) -> torch.Tensor:
    """Each run's loss with every row computed and the padded ones masked out (the textbook
    form, written from the definitions in `pps.learner`'s docstring), `[R]`."""
    cfg, r = learner.cfg, learner.n_runs
    inputs = build_agent_inputs(batch.obs, batch.actions, A)
    b = inputs.shape[0]

    def qs(agents: SlotAgents) -> torch.Tensor:
        slots = learner.layout.to_slots(inputs.transpose(1, 2))
        return learner.layout.from_slots(agents.unroll(slots), b).transpose(1, 2)

    q = qs(learner.agents)
    chosen = q[:, :-1].gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)
    with torch.no_grad():
        target_q = qs(learner.target_agents)[:, 1:]
        chooser = q[:, 1:] if cfg.double_q else target_q
        best = chooser.masked_fill(~batch.avail[:, 1:], -1e9).argmax(-1, keepdim=True)
        next_tot = learner.target_mixer(target_q.gather(-1, best).squeeze(-1), batch.state[:, 1:])
        targets = td_lambda_targets(batch.reward * cfg.reward_scale, batch.terminated, batch.filled, next_tot,
                                    cfg.gamma, cfg.td_lambda)
    mask = batch.filled.float()
    errors = ((learner.mixer(chosen, batch.state[:, :-1]) - targets) * mask) ** 2
    return errors.reshape(r, -1).sum(dim=1) / mask.reshape(r, -1).sum(dim=1)


@pytest.mark.parametrize("kind", ["shared", "per_agent"])
@pytest.mark.parametrize("mixer", ["qmix", "vdn"])
@pytest.mark.parametrize("td_lambda, double_q, reward_scale, runs", [(0.0, True, 1.0, 1), (0.7, False, 2.0, 2)])
def test_the_loss_on_active_rows_is_the_loss_with_every_row_computed(kind, mixer, td_lambda, double_q,
                                                                     reward_scale, runs):
    """Padded steps hold values here that no real step may see (random observations and
    rewards), so a padded row leaking into a target, a lambda-return or a mean shows."""
    torch.manual_seed(0)
    learner = make_learner(kind, mixer, [3 + i for i in range(runs)], td_lambda, double_q, reward_scale)
    b = 16 * runs
    lengths = torch.randint(1, 31, (b,), generator=torch.Generator().manual_seed(1))
    batch = random_batch(b, 30, lengths, 2)
    filled = batch.filled
    garbage = torch.Generator().manual_seed(9)
    padded_steps = ~torch.cat([torch.ones(b, 1, dtype=torch.bool), filled], dim=1)  # [B, T+1]: after the end
    padded_steps[torch.arange(b), lengths] = False  # the observation after the last step is real
    batch.obs[padded_steps] = torch.randn(batch.obs[padded_steps].shape, generator=garbage)
    batch.state[padded_steps] = torch.randn(batch.state[padded_steps].shape, generator=garbage)
    batch.reward[~filled] = torch.randn(batch.reward[~filled].shape, generator=garbage)
    batch.terminated[~filled] = True
    packed, full = learner.loss(batch), unpacked_loss(learner, batch)
    torch.testing.assert_close(packed, full, rtol=1e-5, atol=1e-7)
    packed.sum().backward()
    grads = [p.grad.clone() for p in learner.params]
    learner.slot_optimizer.zero_grad(set_to_none=True)
    full.sum().backward()
    for g, h in zip(grads, (p.grad for p in learner.params)):
        torch.testing.assert_close(g, h, rtol=1e-4, atol=1e-6)


def run_lengths(run: int, b: int, t: int) -> torch.Tensor:
    """Length patterns that make the runs' slots pack very different row counts."""
    g = torch.Generator().manual_seed(10 + run)
    patterns = [torch.full((b,), t), torch.ones(b, dtype=torch.long), torch.randint(1, t + 1, (b,), generator=g),
                torch.randint(1, max(2, t // 4), (b,), generator=g), torch.randint(t // 2, t + 1, (b,), generator=g)]
    return patterns[run % 5]


@pytest.mark.exactness
@pytest.mark.parametrize("kind", ["shared", "per_agent"])
@pytest.mark.parametrize("runs", [1, 2, 5])
@pytest.mark.parametrize("td_lambda", [0.0, 0.6])
def test_a_runs_loss_and_gradients_in_a_group_are_its_bits_alone(kind, runs, td_lambda):
    """Runs whose episodes are all full, all one step, or mixed, packed into one group:
    every run's loss and gradient equal its own computation alone, bit for bit (the group's
    batch is cut to the longest episode of any run, each run's alone to its own)."""
    b, t = 12, 45
    seeds = [20 + r for r in range(runs)]
    lengths = [run_lengths(r, b, t) for r in range(runs)]
    batches = [random_batch(b, t, lengths[r], 30 + r) for r in range(runs)]
    group = make_learner(kind, "qmix", seeds, td_lambda)
    joined = EpisodeBatch(*(torch.cat([getattr(x, f) for x in batches]) for f in
                            ("obs", "state", "avail", "actions", "reward", "terminated", "filled")))
    group_loss = group.loss(joined)
    group_loss.sum().backward()
    for r in range(runs):
        alone = make_learner(kind, "qmix", [seeds[r]], td_lambda)
        alone.load_state_dict(group.state_dict(r))
        own = int(lengths[r].max())
        cut = EpisodeBatch(*(getattr(batches[r], f)[:, :own + (1 if f in ("obs", "state", "avail") else 0)]
                             for f in ("obs", "state", "avail", "actions", "reward", "terminated", "filled")))
        loss = alone.loss(cut)
        loss.sum().backward()
        assert torch.equal(loss[0], group_loss[r])
        per_run = group.agents.n_slots // runs
        for (name, g), p in zip(group.agents.named_parameters(), alone.agents.parameters()):
            assert torch.equal(g.grad[r * per_run:(r + 1) * per_run], p.grad), name
        for (name, g), p in zip(group.mixer.named_parameters(), alone.mixer.parameters()):
            assert torch.equal(g.grad[r:r + 1], p.grad), name
