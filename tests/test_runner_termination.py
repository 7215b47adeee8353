"""Termination versus time-limit truncation.

A time-limited episode must bootstrap and a won/lost one must not. The backend reports
which is which; the runner copies it into the buffer's `terminated` flag and never
infers it from its own step count. jaxmarl's SMAX checks its time limit before counting
the step, so its own `done` fires after 101 steps: the SMAX backend must end episodes at
the 100th step and call that a truncation, and a team wiped out on any step a terminal.
"""

from __future__ import annotations

import pytest
import torch

from pps.envs import registry
from pps.nets.agents import SlotAgents, SlotLayout
from pps.runner import Runner
from tests.helpers.stand_in_envs import ScriptedEnv

STOP = 4


def _set_smax_step(env, value: int) -> None:
    """Move every env's jaxmarl step counter (white-box: the only way to reach the limit
    without playing 98 real steps in which a team may die)."""
    outer = env._state
    inner = outer.state.replace(step=outer.state.step * 0 + value)
    env._state = outer.replace(state=inner)


def test_smax_ends_at_the_limit_step_as_a_truncation_and_then_stays_frozen():
    env = registry.make_env("smax", "3m", 4, seed=3)
    limit = env.info.episode_limit
    assert limit == 100
    env.reset()
    _set_smax_step(env, limit - 2)
    stop = torch.full((4, 3), STOP, dtype=torch.long)
    res = env.step(stop)  # the 99th step: not the limit yet
    assert not res.done.any() and not res.truncated.any()
    res = env.step(stop)  # the 100th step: every env hits the limit with both teams alive
    assert res.done.all() and res.truncated.all() and not res.won.any()
    after = env.step(stop)  # frozen: stays done and truncated, pays nothing
    assert after.done.all() and after.truncated.all() and (after.reward == 0).all()


def _play(env, policy, max_steps: int):
    ob = env.reset()
    avail, ended_at, results = ob.avail, {}, []
    for t in range(max_steps):
        res = env.step(policy(avail))
        results.append(res)
        for i in res.done.nonzero().flatten().tolist():
            ended_at.setdefault(i, t)
        avail = res.avail
        if res.done.all():
            break
    return results, ended_at


def test_smax_wipe_outs_are_terminals_and_never_truncations():
    """Allies that only stop are shot down by the heuristic enemy: a loss, a real terminal."""
    env = registry.make_env("smax", "3m", 4, seed=0)
    results, ended_at = _play(env, lambda avail: torch.full(avail.shape[:2], STOP, dtype=torch.long), 100)
    assert ended_at, "no episode ended: the heuristic enemy should wipe out allies that never fight"
    losses = [i for i, t in ended_at.items() if t < 99]
    assert losses, f"every episode ran to the limit ({ended_at})"
    for i in losses:
        end = results[ended_at[i]]
        assert end.done[i] and not end.truncated[i] and not end.won[i]
        assert all(r.done[i] and not r.truncated[i] for r in results[ended_at[i]:])


def test_smax_episodes_never_exceed_the_limit():
    env = registry.make_env("smax", "3m", 8, seed=1)
    results, ended_at = _play(env, lambda avail: torch.full(avail.shape[:2], STOP, dtype=torch.long), 101)
    assert len(ended_at) == 8 and max(ended_at.values()) <= 99


@pytest.mark.parametrize("limit", [6, 4])
def test_runner_copies_the_backends_verdict_into_the_buffer(limit):
    """A loss at the limit step is a terminal; a truncation before the limit is not; the
    old rule (done at the limit and not won = time-out) got both wrong."""
    env = ScriptedEnv(lengths=[2, 4, 4, 3, 4], endings=["win", "loss", "cut", "cut", "win"], limit=limit)
    torch.manual_seed(0)
    agents = SlotAgents(1, 4 + 3 + 2, 8, 3)
    runner = Runner(env, SlotLayout("shared", 2, 1), torch.device("cpu"))
    stats, ep = runner.collect(agents, epsilon=0.0, generator=None, record=True)
    assert stats.lengths.tolist() == [2, 4, 4, 3, 4]
    assert stats.won.tolist() == [True, False, False, False, True]
    assert ep.filled.sum(1).tolist() == [2, 4, 4, 3, 4]
    expected = torch.zeros(5, limit, dtype=torch.bool)
    expected[0, 1] = True  # won at its 2nd step
    expected[1, 3] = True  # lost at its 4th step, which is the limit when limit == 4
    expected[4, 3] = True  # won at its 4th step
    assert torch.equal(ep.terminated, expected)


def test_runner_bootstraps_an_env_the_backend_never_ended():
    """Should a backend not report its limit, the runner stops at `episode_limit` steps and
    treats the episode as cut off (bootstrap), never as a terminal."""
    env = ScriptedEnv(lengths=[10, 2], endings=["win", "loss"], limit=4)
    agents = SlotAgents(1, 9, 8, 3)
    runner = Runner(env, SlotLayout("shared", 2, 1), torch.device("cpu"))
    stats, ep = runner.collect(agents, epsilon=0.0, generator=None, record=True)
    assert stats.lengths.tolist() == [4, 2]
    assert not ep.terminated[0].any() and ep.terminated[1, 1]
