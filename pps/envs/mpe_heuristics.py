"""Scripted reference policies for the MPE tasks: the R_ref of `pps.envs.references`.

A return-only task is scored as (R - R_random) / (R_ref - R_random), so R_ref must be a
fixed, documented, reproducible number that a learner can be compared with. Each policy
here is decentralised: an agent acts on its own observation only (the padded
`[B, N, obs_dim]` tensor the backend hands out), in the layouts of jaxmarl's `get_obs`
(jaxmarl 0.2.0, read from its source):

* simple_spread (N agents, N landmarks): own velocity (2), own position (2), every landmark
  relative to the agent (2N), every other agent relative to it in index order (2(N-1)),
  their messages (2(N-1), always zero: the agents are silent).
* simple_reference (2 agents): own velocity (2), the 3 landmarks relative to the agent (6),
  the *other* agent's goal as a colour (3: 0.75 at the goal, 0.25 elsewhere), the other
  agent's last message (10). Action = move + 5 * message.
* simple_speaker_listener: speaker = the listener's goal as a colour (3: 0.65 at the goal);
  listener = own velocity (2), the 3 landmarks relative to it (6), the speaker's last
  message (3). Speaker actions = message 0-2; listener actions = moves.

Moving: discrete action k applies a unit force along one axis (1: -x, 2: +x, 3: -y, 4: +y,
0: none). With jaxmarl's physics (dt 0.1, damping 0.25, acceleration 5, mass 1) an agent
that stops pushing coasts 0.4 x its velocity before it rests, and one push moves that
resting point by 0.2 along its axis. `move_towards` picks the action whose resting point
is nearest the target: a greedy controller that neither overshoots much nor oscillates.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import torch

# jaxmarl's MPE defaults (jaxmarl/environments/mpe/default_params.py and SimpleMPE):
DT, DAMPING, ACCEL = 0.1, 0.25, 5.0
COAST = DT / DAMPING  # distance a free agent still travels per unit of velocity
PUSH = ACCEL * DT * COAST  # how far one push moves the resting point
MOVES = torch.tensor([[0.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])  # action -> force direction


def move_towards(offset: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
    """The move (0-4) whose predicted resting point is nearest `offset` (target minus own
    position). offset, velocity `[..., 2]` -> `[...]` int64."""
    rest = offset.unsqueeze(-2) - COAST * velocity.unsqueeze(-2) - PUSH * MOVES  # [..., 5, 2]
    return rest.norm(dim=-1).argmin(dim=-1)


def _landmarks(obs: torch.Tensor, start: int, n: int) -> torch.Tensor:
    """Landmark offsets `[..., n, 2]` stored from feature `start` on."""
    return obs[..., start:start + 2 * n].reshape(*obs.shape[:-1], n, 2)


def _announced(offsets: torch.Tensor, message: torch.Tensor) -> torch.Tensor:
    """The offset of the landmark a one-hot `message` names; the landmarks' centre while
    nothing has been said yet (the first step), the point that is nearest on average."""
    heard = message.any(dim=-1, keepdim=True)
    named = offsets.gather(-2, message.argmax(dim=-1)[..., None, None].expand(*offsets.shape[:-2], 1, 2)).squeeze(-2)
    return torch.where(heard, named, offsets.mean(dim=-2))


@dataclass(frozen=True)
class ReferencePolicy:
    """A scripted policy `act(obs [B,N,obs_dim], avail [B,N,A]) -> actions [B,N]` and what it does."""

    description: str
    act: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def spread_policy(n: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Each agent reconstructs every agent's and landmark's position from its own
    observation, finds the assignment of agents to distinct landmarks with the least total
    distance (all N! assignments; every agent sees the same positions, so they agree) and
    moves towards its own landmark."""
    perms = torch.tensor(list(itertools.permutations(range(n))))  # [P, n]

    def act(obs: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
        b = obs.shape[0]
        actions = torch.zeros(b, n, dtype=torch.long)
        for i in range(n):
            o = obs[:, i]
            vel = o[:, 0:2]  # o[:, 2:4], the absolute position, is not needed: all else is relative
            marks = _landmarks(o, 4, n)  # relative to agent i
            others = _landmarks(o, 4 + 2 * n, n - 1)  # relative to agent i, index order without i
            agents = torch.cat([others[:, :i], torch.zeros(b, 1, 2), others[:, i:]], dim=1)  # [B, n, 2]
            dist = (agents[:, :, None] - marks[:, None]).norm(dim=-1)  # [B, agent, landmark]
            cost = dist[:, torch.arange(n)[None, :], perms].sum(-1)  # [B, P]
            mine = perms[cost.argmin(dim=1), i]  # [B]: agent i's landmark
            target = marks[torch.arange(b), mine]
            actions[:, i] = move_towards(target, vel)
        return actions

    return act


def reference_act(obs: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """simple_reference: say the other agent's goal (the colour it shows), go to the landmark
    the other agent names."""
    vel = obs[..., 0:2]
    marks = _landmarks(obs, 2, 3)
    other_goal = obs[..., 8:11].argmax(dim=-1)
    heard = obs[..., 11:21]
    move = move_towards(_announced(marks, heard[..., :3]), vel)
    return move + 5 * other_goal


def speaker_listener_act(obs: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """simple_speaker_listener: the speaker names the goal colour; the listener goes to the
    landmark named."""
    speaker, listener = obs[:, 0], obs[:, 1]
    say = speaker[:, 0:3].argmax(dim=-1)
    move = move_towards(_announced(_landmarks(listener, 2, 3), listener[:, 8:11]), listener[:, 0:2])
    return torch.stack([say, move], dim=1)


REFERENCE_POLICIES: dict[str, ReferencePolicy] = {
    "simple_spread_v3": ReferencePolicy(
        "scripted: every agent goes to its landmark in the least-total-distance assignment "
        "(computed from its own observation), greedy resting-point controller", spread_policy(3)),
    "simple_spread_v3_5ag": ReferencePolicy(
        "scripted: every agent goes to its landmark in the least-total-distance assignment "
        "(computed from its own observation), greedy resting-point controller", spread_policy(5)),
    "simple_reference_v3": ReferencePolicy(
        "scripted: each agent says the other's goal and goes to the landmark the other names "
        "(landmarks' centre before the first message), greedy resting-point controller", reference_act),
    "simple_speaker_listener_v4": ReferencePolicy(
        "scripted: the speaker names the goal; the listener goes to the named landmark "
        "(landmarks' centre before the first message), greedy resting-point controller", speaker_listener_act),
}
