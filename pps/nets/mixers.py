"""Value-decomposition mixers: VDN (a sum) and QMIX (a monotonic hypernetwork mixer).

Both map per-agent chosen Q-values `[B, T, N]` (and the global state `[B, T, state_dim]`)
to a team value `[B, T]`. QMIX keeps dQ_tot/dQ_i >= 0 by taking absolute values of the
hypernetwork-generated mixing weights, which is what makes the decentralised argmax
consistent with the centralised one.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from pps.nets.agents import SlotLinear


class VDNMixer(nn.Module):
    """Q_tot = sum_i Q_i."""

    def forward(self, agent_qs: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        return agent_qs.sum(dim=-1)


def _hypernet(n_runs: int, in_dim: int, out_dim: int, hidden: int, layers: int) -> nn.Module:
    if layers == 1:
        return SlotLinear(n_runs, in_dim, out_dim)
    if layers == 2:
        return nn.Sequential(SlotLinear(n_runs, in_dim, hidden), nn.ReLU(), SlotLinear(n_runs, hidden, out_dim))
    raise ValueError(f"hypernet_layers must be 1 or 2, got {layers}")


class QMixer(nn.Module):
    """QMIX (Rashid et al. 2018): a two-layer mixing network whose weights are |hypernet(state)|.

    Stacked over `n_runs` independent runs (a run group): every hypernetwork layer is a
    `SlotLinear` with one slot per run, and the inputs' leading dimension holds R equal run
    blocks, run after run. One run's mixer is the case R = 1, built like `nn.Linear` layers
    (`reset_like_linear`) so that `torch.manual_seed(s)` fixes it as before.
    """

    def __init__(self, n_agents: int, state_dim: int, embed: int = 32, hypernet_hidden: int = 64,
                 hypernet_layers: int = 1, n_runs: int = 1) -> None:
        super().__init__()
        self.n_agents, self.embed, self.n_runs = n_agents, embed, n_runs
        self.hyper_w1 = _hypernet(n_runs, state_dim, embed * n_agents, hypernet_hidden, hypernet_layers)
        self.hyper_b1 = SlotLinear(n_runs, state_dim, embed)
        self.hyper_w2 = _hypernet(n_runs, state_dim, embed, hypernet_hidden, hypernet_layers)
        self.hyper_b2 = nn.Sequential(SlotLinear(n_runs, state_dim, embed), nn.ReLU(), SlotLinear(n_runs, embed, 1))
        for layer in self.modules():
            if isinstance(layer, SlotLinear):
                layer.reset_like_linear()

    def forward(self, agent_qs: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """agent_qs `[B, ..., N]` and states `[B, ..., state_dim]`, B = R run blocks -> `[B, ...]`."""
        lead = agent_qs.shape[:-1]
        r = self.n_runs
        s = states.reshape(r, -1, states.shape[-1])  # [R, M, state_dim]: run r's rows
        qs = agent_qs.reshape(-1, 1, self.n_agents)  # [R*M, 1, N]
        w1 = self.hyper_w1(s).abs().reshape(-1, self.n_agents, self.embed)
        b1 = self.hyper_b1(s).reshape(-1, 1, self.embed)
        hidden = F.elu(torch.bmm(qs, w1) + b1)
        w2 = self.hyper_w2(s).abs().reshape(-1, self.embed, 1)
        b2 = self.hyper_b2(s).reshape(-1, 1, 1)
        return (torch.bmm(hidden, w2) + b2).view(*lead)


def stack_runs(modules: list[QMixer]) -> QMixer:
    """One QMIX mixer of R runs from R one-run mixers of the same shape: every parameter is
    the concatenation of theirs along its leading (run) dimension, run after run. (VDN has
    no parameters: one `VDNMixer` serves any number of runs.)"""
    first = modules[0]
    if len(modules) == 1:
        return first
    stacked = copy.deepcopy(first)
    stacked.n_runs = len(modules)
    params = [dict(m.named_parameters()) for m in modules]
    with torch.no_grad():
        for name, p in stacked.named_parameters():
            p.data = torch.cat([own[name].data for own in params], dim=0)
    return stacked


def make_mixer(kind: str, n_agents: int, state_dim: int, embed: int, hypernet_hidden: int,
               hypernet_layers: int, init_seeds: list[int] | None = None) -> nn.Module:
    """The mixer of one run, or of a run group with `init_seeds` (one per run): run r's
    mixer is drawn after `torch.manual_seed(init_seeds[r])`, as that run alone draws it."""
    if kind not in ("vdn", "qmix"):
        raise ValueError(f"unknown mixer {kind!r}")
    if kind == "vdn":
        return VDNMixer()
    if init_seeds is None:
        return QMixer(n_agents, state_dim, embed, hypernet_hidden, hypernet_layers)
    runs = []
    for seed in init_seeds:
        torch.manual_seed(seed)
        runs.append(QMixer(n_agents, state_dim, embed, hypernet_hidden, hypernet_layers))
    return stack_runs(runs)
