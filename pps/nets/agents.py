"""Recurrent agent Q-networks whose parameters live in *slots* (DESIGN §2).

Every parameter tensor carries a leading slot dimension: slot s is one complete agent
network (fc1 -> ReLU -> GRUCell -> fc2). Shared QMIX has one slot; independent agents and
every PPS method have one slot per agent. The forward pass takes activations already
grouped by slot, `[S, M, features]` (M rows use slot s), so all agents of all envs run as a
handful of `torch.bmm` calls whatever the layout. `SlotLayout` turns the natural
`[B, N, ...]` tensors into that grouping and back.

Why not N `nn.Module`s: the authors' code loops over agents and time steps in Python,
which is where 86% of its training time went. A batched matmul over slots does the same
FLOPs in one kernel. `RNNAgent` below is the plain one-module reference used by the
equivalence test and the speed benchmark.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class SlotLinear(nn.Module):
    """`S` independent linear layers applied to `[S, M, in]` with one batched matmul."""

    def __init__(self, n_slots: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_slots, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(n_slots, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # baddbmm fuses bias and matmul: [S, M, out] = bias[S, 1, out] + x @ W^T
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))


class SlotGRUCell(nn.Module):
    """`S` independent GRU cells with `torch.nn.GRUCell`'s exact equations and gate order (r, z, n)."""

    def __init__(self, n_slots: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.weight_ih = nn.Parameter(torch.empty(n_slots, 3 * hidden, hidden))
        self.weight_hh = nn.Parameter(torch.empty(n_slots, 3 * hidden, hidden))
        self.bias_ih = nn.Parameter(torch.empty(n_slots, 3 * hidden))
        self.bias_hh = nn.Parameter(torch.empty(n_slots, 3 * hidden))

    def input_gates(self, x: torch.Tensor) -> torch.Tensor:
        """The input half of the gates, `[S, M, 3H]`; for a sequence it is computed for all steps at once."""
        return torch.baddbmm(self.bias_ih.unsqueeze(1), x, self.weight_ih.transpose(1, 2))

    def step(self, gates_x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        gates_h = torch.baddbmm(self.bias_hh.unsqueeze(1), h, self.weight_hh.transpose(1, 2))
        x_r, x_z, x_n = gates_x.chunk(3, dim=-1)
        h_r, h_z, h_n = gates_h.chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        return n + z * (h - n)  # == (1 - z) * n + z * h

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.step(self.input_gates(x), h)


class SlotAgents(nn.Module):
    """`n_slots` agent networks stacked along a leading slot dimension.

    Parameter names (`fc1.weight`, `rnn.weight_hh`, `fc2.bias`, ...) match `RNNAgent`'s, so
    PP-PPS's `pp_shared` list and checkpoints read the same in both.
    """

    def __init__(self, n_slots: int, input_dim: int, hidden: int, n_actions: int) -> None:
        super().__init__()
        self.n_slots, self.input_dim, self.hidden, self.n_actions = n_slots, input_dim, hidden, n_actions
        self.fc1 = SlotLinear(n_slots, input_dim, hidden)
        self.rnn = SlotGRUCell(n_slots, hidden)
        self.fc2 = SlotLinear(n_slots, hidden, n_actions)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator) -> None:
        """Orthogonal weights and zero biases, as the authors' code; each slot drawn independently."""
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            else:
                for s in range(p.shape[0]):
                    p[s].copy_(_orthogonal(p.shape[1:], generator))

    def step(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One time step. x `[S, M, in]`, h `[S, M, H]` -> (q `[S, M, A]`, new h)."""
        h = self.rnn(F.relu(self.fc1(x)), h)
        return self.fc2(h), h

    def unroll(self, x: torch.Tensor) -> torch.Tensor:
        """A whole sequence from a zero hidden state. x `[S, M, T, in]` -> q `[S, M, T, A]`.

        The input layer, the GRU's input gates and the output head are computed for all T
        steps in one matmul each; only the `h @ W_hh` recurrence loops over time.
        """
        s, m, t, _ = x.shape
        gates_x = self.rnn.input_gates(F.relu(self.fc1(x.reshape(s, m * t, -1)))).reshape(s, m, t, -1)
        h = x.new_zeros(s, m, self.hidden)
        hs = []
        # unbind, not gates_x[:, :, i]: the backward of T separate selects zero-fills a full
        # [S, M, T, 3H] gradient per step (O(T^2) memory traffic; 74% of an update's CPU time
        # at N = 8, T = 60 in a profile). unbind's backward is a single stack.
        for gates_t in gates_x.unbind(dim=2):
            h = self.rnn.step(gates_t, h)
            hs.append(h)
        hidden = torch.stack(hs, dim=2).reshape(s, m * t, self.hidden)
        return self.fc2(hidden).reshape(s, m, t, self.n_actions)

    def slot_state_dict(self, slot: int) -> dict[str, torch.Tensor]:
        """Slot `slot`'s parameters in `RNNAgent`'s layout (for the reference and tests)."""
        return {name: p[slot].detach().clone() for name, p in self.named_parameters()}

    @torch.no_grad()
    def load_slot(self, slot: int, agent: "RNNAgent") -> None:
        own = dict(self.named_parameters())
        for name, p in agent.named_parameters():
            own[name][slot].copy_(p)


class SlotLayout:
    """How the agents of B envs map onto slots, and the reshapes between the two views.

    `shared`: one slot; all B*N (env, agent) rows use it.
    `per_agent`: slot n serves agent n in every env (independent agents, PPS).
    `per_env_group`: for RS-PPS's swap evaluation, env block g (B = S*E envs, in blocks of
    E) runs every agent with slot g.
    """

    def __init__(self, kind: str, n_agents: int, n_slots: int) -> None:
        if kind not in ("shared", "per_agent", "per_env_group"):
            raise ValueError(f"unknown slot layout {kind!r}")
        if kind == "shared" and n_slots != 1:
            raise ValueError("a shared layout has exactly one slot")
        if kind == "per_agent" and n_slots != n_agents:
            raise ValueError("a per-agent layout has one slot per agent")
        self.kind, self.n_agents, self.n_slots = kind, n_agents, n_slots

    def to_slots(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, N, *f]` -> `[S, M, *f]`."""
        b, n = x.shape[:2]
        rest = x.shape[2:]
        if self.kind == "shared":
            return x.reshape(1, b * n, *rest)
        if self.kind == "per_agent":
            return x.transpose(0, 1)
        return x.reshape(self.n_slots, (b // self.n_slots) * n, *rest)

    def from_slots(self, y: torch.Tensor, n_envs: int) -> torch.Tensor:
        """`[S, M, *f]` -> `[B, N, *f]`."""
        rest = y.shape[2:]
        if self.kind == "per_agent":
            return y.transpose(0, 1)
        return y.reshape(n_envs, self.n_agents, *rest)


def _orthogonal(shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    """An orthogonal matrix of `shape` drawn with `generator` (torch's init takes no generator)."""
    rows, cols = shape[0], math.prod(shape[1:])
    flat = torch.randn(max(rows, cols), min(rows, cols), generator=generator)
    q, r = torch.linalg.qr(flat)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
    if rows < cols:
        q = q.T
    return q[:rows, :cols].reshape(shape).contiguous()


class RNNAgent(nn.Module):
    """One agent network as a plain module: the reference the slot-stacked version must equal."""

    def __init__(self, input_dim: int, hidden: int, n_actions: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.fc1 = nn.Linear(input_dim, hidden)
        self.rnn = nn.GRUCell(hidden, hidden)
        self.fc2 = nn.Linear(hidden, n_actions)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.rnn(F.relu(self.fc1(x)), h)
        return self.fc2(h), h


def agent_from_slot(agents: SlotAgents, slot: int) -> RNNAgent:
    """A standalone `RNNAgent` holding a copy of slot `slot`'s weights."""
    agent = RNNAgent(agents.input_dim, agents.hidden, agents.n_actions)
    agent.load_state_dict(agents.slot_state_dict(slot))
    return agent
