"""Recurrent agent Q-networks whose parameters live in *slots* (docs/design.md §2).

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

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F

from pps.nets.active_rows import ActiveRows
from pps.nets.row_sums import slot_affine

# The Q-value an unavailable action is masked with before an argmax (acting, and the
# learner's choice of the next action): far below any real Q. It sits with the agent
# networks because both the runner and the learner mask their Qs.
NEG_INF = -1e9


class SlotLinear(nn.Module):
    """`S` independent linear layers applied to `[S, M, in]` with one batched matmul.

    Left uninitialised (agents draw orthogonal weights per slot with their own generator);
    `reset_like_linear` gives each slot `nn.Linear`'s default draw instead (the mixers').
    """

    def __init__(self, n_slots: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_slots, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(n_slots, out_features))

    @torch.no_grad()
    def reset_like_linear(self) -> None:
        """Each slot as `nn.Linear(in, out)` initialises itself from torch's global generator
        (weight, then bias, slot by slot), so a one-slot layer built after
        `torch.manual_seed(s)` holds exactly what `nn.Linear` would."""
        fan_in = self.weight.shape[-1]
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        for s in range(self.weight.shape[0]):
            nn.init.kaiming_uniform_(self.weight[s], a=math.sqrt(5))
            nn.init.uniform_(self.bias[s], -bound, bound)

    def forward(self, x: torch.Tensor, fixed_rows: bool = False) -> torch.Tensor:
        """`fixed_rows`: the row count is the same alone and in any group (acting: envs x
        agents per slot), so the rows need no padding to whole chunks (`pps.nets.row_sums`)."""
        return slot_affine(x, self.weight, self.bias, fixed_rows)


class SlotGRUCell(nn.Module):
    """`S` independent GRU cells with `torch.nn.GRUCell`'s exact equations and gate order (r, z, n)."""

    def __init__(self, n_slots: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.weight_ih = nn.Parameter(torch.empty(n_slots, 3 * hidden, hidden))
        self.weight_hh = nn.Parameter(torch.empty(n_slots, 3 * hidden, hidden))
        self.bias_ih = nn.Parameter(torch.empty(n_slots, 3 * hidden))
        self.bias_hh = nn.Parameter(torch.empty(n_slots, 3 * hidden))

    def input_gates(self, x: torch.Tensor, fixed_rows: bool = False) -> torch.Tensor:
        """The input half of the gates, `[S, M, 3H]`; for a sequence it is computed for all steps at once."""
        return slot_affine(x, self.weight_ih, self.bias_ih, fixed_rows)

    def step(self, gates_x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        gates_h = torch.baddbmm(self.bias_hh.unsqueeze(1), h, self.weight_hh.transpose(1, 2))
        # GRUCell's r, z, n in 6 ops rather than 10 (the unroll is op-bound at these sizes):
        # r and z share one sigmoid, n = tanh(x_n + r * h_n) is one addcmul, and the output
        # (1 - z) * n + z * h is lerp(n, h, z)
        # (split, not slicing: one backward node per tensor instead of a zero-filled copy per slice)
        sizes = [2 * self.hidden, self.hidden]
        x_rz, x_n = gates_x.split(sizes, dim=-1)
        h_rz, h_n = gates_h.split(sizes, dim=-1)
        r, z = torch.sigmoid(x_rz + h_rz).chunk(2, dim=-1)
        n = torch.tanh(torch.addcmul(x_n, r, h_n))
        return torch.lerp(n, h, z)

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
    def reset_parameters(self, generator: torch.Generator | list[torch.Generator]) -> None:
        """Orthogonal weights and zero biases, as the authors' code; each slot drawn independently.

        A run group passes one generator per run: run r's slots (the r-th equal share, run
        after run) draw from generator r in the order a run alone would, so a run's initial
        networks do not depend on the group it trains in.
        """
        generators = generator if isinstance(generator, list) else [generator]
        if self.n_slots % len(generators):
            raise ValueError(f"{self.n_slots} slots cannot be split over {len(generators)} runs")
        per_run = self.n_slots // len(generators)
        for run, gen in enumerate(generators):
            for name, p in self.named_parameters():
                for s in range(run * per_run, (run + 1) * per_run):
                    if name.endswith("bias"):
                        p[s].zero_()
                    else:
                        p[s].copy_(_orthogonal(p.shape[1:], gen))

    def slot_view(self, start: int, stop: int) -> SlotAgents:
        """Slots `start:stop` as a `SlotAgents` whose parameters are views of this one's (no
        copy): a run of a group acts and evaluates with its own slots through it, and sees
        every in-place change (optimiser steps, aggregation, checkpoint loads)."""
        view = SlotAgents.__new__(SlotAgents)
        nn.Module.__init__(view)
        view.n_slots, view.input_dim = stop - start, self.input_dim
        view.hidden, view.n_actions = self.hidden, self.n_actions
        view.fc1 = _slot_module_view(self.fc1, start, stop)
        view.rnn = _slot_module_view(self.rnn, start, stop)
        view.fc2 = _slot_module_view(self.fc2, start, stop)
        return view

    def step(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One time step (acting). x `[S, M, in]`, h `[S, M, H]` -> (q `[S, M, A]`, new h).

        A slot's M rows (its envs' agents) number the same alone and in a group, so the
        layers skip the row padding that whole sequences need."""
        h = self.rnn.step(self.rnn.input_gates(F.relu(self.fc1(x, fixed_rows=True)), fixed_rows=True), h)
        return self.fc2(h, fixed_rows=True), h

    def unroll(self, x: torch.Tensor) -> torch.Tensor:
        """A whole sequence from a zero hidden state, every row computed. x `[S, M, T, in]`
        -> q `[S, M, T, A]` (`unroll_active` with every row active)."""
        s, m, t, _ = x.shape
        rows = ActiveRows.from_mask(torch.ones(s, t * m, dtype=torch.bool, device=x.device))
        q = self.unroll_active(rows.pack(x.transpose(1, 2)), rows, t)[:, :t * m]
        return q.reshape(s, t, m, self.n_actions).transpose(1, 2)

    def unroll_active(self, x: torch.Tensor, rows: ActiveRows, steps: int) -> torch.Tensor:
        """Whole sequences from a zero hidden state, computed on their active rows only.

        `rows` marks the active rows of a time-major layout of `steps` steps of M rows per
        slot (step 0's M rows, then step 1's, ...); x `[S, P, in]` holds those rows packed
        (`ActiveRows.pack`) and the result is q `[S, P, A]` on the same rows. The input layer,
        the GRU's input gates and the output head run once over the packed rows (one matmul
        each); only the `h @ W_hh` recurrence loops over time, on all M rows of each step (a
        fixed row count, alone and in a group; an inactive row carries a hidden state that
        never reaches an active row, and its gradient is zero). Trailing filler rows of a
        short slot in a group change no real row's bits (`pps.nets.active_rows`).
        """
        s = x.shape[0]
        m = rows.rows // steps
        gates_x = rows.unpack(self.rnn.input_gates(F.relu(self.fc1(x)))).view(s, steps, m, -1)
        h = x.new_zeros(s, m, self.hidden)
        hs = []
        # unbind, not gates_x[:, i]: the backward of T separate selects zero-fills a full
        # [S, T, M, 3H] gradient per step (O(T^2) memory traffic; 74% of an update's CPU time
        # at N = 8, T = 60 in a profile). unbind's backward is a single stack.
        for gates_t in gates_x.unbind(dim=1):
            h = self.rnn.step(gates_t, h)
            hs.append(h)
        return self.fc2(rows.pack(torch.stack(hs, dim=1)))

    def slot_state_dict(self, slot: int) -> dict[str, torch.Tensor]:
        """Slot `slot`'s parameters in `RNNAgent`'s layout (for the reference and tests)."""
        return {name: p[slot].detach().clone() for name, p in self.named_parameters()}

    @torch.no_grad()
    def load_slot(self, slot: int, agent: RNNAgent) -> None:
        own = dict(self.named_parameters())
        for name, p in agent.named_parameters():
            own[name][slot].copy_(p)


class SlotLayout:
    """How the agents of B envs map onto slots, and the reshapes between the two views.

    `shared`: one slot per run; all B*N (env, agent) rows of a run use it.
    `per_agent`: slot (r, n) serves agent n of run r in every env (independent agents, PPS).
    `per_env_group`: for RS-PPS's swap evaluation, env block g (B = S*E envs, in blocks of
    E) runs every agent with slot g.

    A run group (`n_runs` R > 1) stacks R runs: the B envs are R blocks of B/R, run after
    run, and the slots are R blocks of the per-run slots. Each slot still sees exactly the
    rows it would see alone, so its matmuls have a run's own shapes.
    """

    def __init__(self, kind: str, n_agents: int, n_slots: int, n_runs: int = 1) -> None:
        if kind not in ("shared", "per_agent", "per_env_group"):
            raise ValueError(f"unknown slot layout {kind!r}")
        if kind == "shared" and n_slots != n_runs:
            raise ValueError("a shared layout has exactly one slot per run")
        if kind == "per_agent" and n_slots != n_agents * n_runs:
            raise ValueError("a per-agent layout has one slot per agent and run")
        self.kind, self.n_agents, self.n_slots, self.n_runs = kind, n_agents, n_slots, n_runs

    def to_slots(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, N, *f]` -> `[S, M, *f]`."""
        b, n = x.shape[:2]
        rest = x.shape[2:]
        r = self.n_runs
        if self.kind == "shared":
            return x.reshape(r, (b // r) * n, *rest)
        if self.kind == "per_agent":
            # one sequence of ops for any run count (no R = 1 shortcut): the gradients then
            # have the same memory layout alone and in a group, so their sums round alike
            return x.reshape(r, b // r, n, *rest).transpose(1, 2).reshape(r * n, b // r, *rest)
        return x.reshape(self.n_slots, (b // self.n_slots) * n, *rest)

    def from_slots(self, y: torch.Tensor, n_envs: int) -> torch.Tensor:
        """`[S, M, *f]` -> `[B, N, *f]`."""
        rest = y.shape[2:]
        r = self.n_runs
        if self.kind == "per_agent":
            return y.reshape(r, self.n_agents, n_envs // r, *rest).transpose(1, 2).reshape(n_envs, self.n_agents, *rest)
        return y.reshape(n_envs, self.n_agents, *rest)


def _slot_module_view(module: nn.Module, start: int, stop: int) -> nn.Module:
    """A shallow copy of a slot layer whose parameters are `[start:stop]` views of the original's."""
    view = copy.copy(module)
    view._parameters = {name: nn.Parameter(p.data[start:stop], requires_grad=False)
                        for name, p in module._parameters.items()}
    return view


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
