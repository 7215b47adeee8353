"""A reset of the optimiser state at aggregation behaves like a fresh optimiser.

The checks are on the *size of the next updates*, not only on zeroed moments: with torch's
one `step` counter per stacked tensor, a slot whose Adam moments are zeroed at step 500
would move ~2x the learning rate on its first update (~3.2x once 1 - 0.999**s ~ 1: bias
corrections for an old optimiser applied to moments of (1 - beta) g), where a fresh Adam
moves ~1x.
"""

from __future__ import annotations

import io

import pytest
import torch

from pps.methods import METHODS
from pps.nets.agents import SlotAgents
from pps.sharing import Aggregator
from pps.slot_optimizer import SlotOptimizer

LR = 1e-3


def _gradients(steps: int, shape: tuple[int, ...], seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g) * (1 + 5 * torch.rand(shape, generator=g)) for _ in range(steps)]


def _apply(optimizer, param: torch.nn.Parameter, grad: torch.Tensor) -> None:
    optimizer.zero_grad()
    param.grad = grad.clone()
    optimizer.step()


@pytest.mark.parametrize("kind", ["adam", "rmsprop"])
def test_restarted_slots_follow_a_fresh_optimiser_and_the_others_are_untouched(kind):
    make = (lambda ps: torch.optim.Adam(ps, lr=LR)) if kind == "adam" else \
        (lambda ps: torch.optim.RMSprop(ps, lr=LR, alpha=0.99, eps=1e-5))
    stacked = torch.nn.Parameter(torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(0)))
    reference = torch.nn.Parameter(stacked.detach().clone())  # the same run without a restart
    opt, ref_opt = SlotOptimizer(make([stacked])), make([reference])
    for grad in _gradients(500, (3, 4, 5), seed=1):
        _apply(opt, stacked, grad)
        _apply(ref_opt, reference, grad)
    torch.testing.assert_close(stacked, reference, rtol=0, atol=0)

    opt.restart(stacked, [0, 1])
    fresh = torch.nn.Parameter(stacked.detach()[:2].clone())
    fresh_opt = make([fresh])
    for i, grad in enumerate(_gradients(50, (3, 4, 5), seed=2)):
        before = stacked.detach().clone()
        _apply(opt, stacked, grad)
        _apply(fresh_opt, fresh, grad[:2])
        _apply(ref_opt, reference, grad)
        torch.testing.assert_close(stacked.detach()[:2], fresh.detach(), rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(stacked.detach()[2], reference.detach()[2], rtol=0, atol=0)
        if i == 0:
            step = (stacked.detach()[:2] - before[:2]).abs().max().item()
            # a fresh Adam's first step is lr * g / (|g| + eps) ~ lr; a fresh RMSprop's is
            # lr * g / (sqrt(1 - alpha) |g| + eps) ~ 10 lr (no bias correction in RMSprop)
            expected = LR if kind == "adam" else LR / (1 - 0.99) ** 0.5
            assert step == pytest.approx(expected, rel=1e-3)


def test_zeroed_moments_without_the_correction_overshoot():
    """The defect the class exists for, measured: plain torch Adam after zeroing moments at
    step 500 moves ~2x the learning rate on the next update (0.1 / sqrt(0.001 / 0.394))."""
    p = torch.nn.Parameter(torch.zeros(2, 6))
    opt = torch.optim.Adam([p], lr=LR)
    for grad in _gradients(500, (2, 6), seed=3):
        _apply(opt, p, grad)
    opt.state[p]["exp_avg"].zero_()
    opt.state[p]["exp_avg_sq"].zero_()
    before = p.detach().clone()
    _apply(opt, p, torch.ones(2, 6))
    assert (p.detach() - before).abs().max().item() == pytest.approx(1.98 * LR, rel=0.01)


def test_restart_state_survives_a_checkpoint_round_trip():
    p = torch.nn.Parameter(torch.randn(3, 4, generator=torch.Generator().manual_seed(4)))
    q = torch.nn.Parameter(p.detach().clone())
    a, b = SlotOptimizer(torch.optim.Adam([p], lr=LR)), SlotOptimizer(torch.optim.Adam([q], lr=LR))
    grads = _gradients(30, (3, 4), seed=5)
    for grad in grads[:10]:
        _apply(a, p, grad)
    a.restart(p, [1])
    _apply(a, p, grads[10])
    q.data.copy_(p.detach())
    saved = io.BytesIO()
    torch.save(a.state_dict(), saved)  # as a checkpoint does
    saved.seek(0)
    b.load_state_dict(torch.load(saved, weights_only=False))
    for grad in grads[11:]:
        _apply(a, p, grad)
        _apply(b, q, grad)
    torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_aggregation_with_reset_restarts_only_aggregated_slots_of_shared_layers():
    torch.manual_seed(0)
    agents = SlotAgents(3, 6, 8, 4)
    opt = SlotOptimizer(torch.optim.Adam(agents.parameters(), lr=LR))
    for _ in range(20):
        opt.zero_grad()
        agents.unroll(torch.randn(3, 2, 5, 6)).sum().backward()
        opt.step()
    agg = Aggregator(METHODS["pp-pps"], [[0, 1], [2]], ("fc1.weight",), "reset")
    agg.apply(agents, opt, agg.weights(3, None, 1.0))
    index = [id(p) for p in agents.parameters()].index(id(agents.fc1.weight))
    assert opt.restarted_at[index].tolist() == [20, 20, 0]  # slot 2 is a group of one
    assert len(opt.restarted_at) == 1  # personal layers keep their state
    state = opt.optimizer.state[agents.fc1.weight]
    assert (state["exp_avg"][:2] == 0).all() and (state["exp_avg"][2] != 0).any()


@pytest.mark.exactness
@pytest.mark.parametrize("kind", ["adam", "adam-fused", "rmsprop"])
@pytest.mark.parametrize("runs, position", [(2, 1), (5, 0), (5, 4)])
def test_a_run_steps_the_same_bits_alone_and_in_a_group_of_any_size(kind, runs, position):
    """Each run's block is stepped as the tensor it is alone: fused Adam, the default, rounds
    a tensor's vector tail otherwise than its body, so stepping the stacked tensor at once
    changes a run's last elements (sizes here are not multiples of any vector width)."""
    def make(ps):
        if kind == "rmsprop":
            return torch.optim.RMSprop(ps, lr=LR, alpha=0.99, eps=1e-5)
        return torch.optim.Adam(ps, lr=LR, fused=kind == "adam-fused")

    shapes = [(3, 9, 13), (3, 9), (1, 7), (1, 33), (3, 64, 27)]  # per run: slots first
    gen = torch.Generator().manual_seed(runs)
    alone = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in shapes]
    group = [torch.nn.Parameter(torch.randn((runs * s[0], *s[1:]), generator=gen)) for s in shapes]
    with torch.no_grad():
        for a, g in zip(alone, group):
            g.view(runs, -1)[position] = a.view(-1)
    opt_alone, opt_group = SlotOptimizer(make(alone), 1), SlotOptimizer(make(group), runs)
    for step in range(40):
        if step == 10:  # a restart (`reset` policy) of one slot of the watched run
            opt_alone.restart(alone[0], [1])
            opt_group.restart(group[0], [position * 3 + 1])
        for a, g in zip(alone, group):
            grad = torch.randn(g.shape, generator=gen) * 3
            g.grad = grad
            a.grad = grad.view(runs, -1)[position].view(a.shape).clone()
        opt_alone.step()
        opt_group.step()
    for a, g in zip(alone, group):
        assert torch.equal(g.detach().view(runs, -1)[position], a.detach().view(-1))
