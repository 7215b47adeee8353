"""Value-decomposition mixers: VDN (a sum) and QMIX (a monotonic hypernetwork mixer).

Both map per-agent chosen Q-values `[B, T, N]` (and the global state `[B, T, state_dim]`)
to a team value `[B, T]`. QMIX keeps dQ_tot/dQ_i >= 0 by taking absolute values of the
hypernetwork-generated mixing weights, which is what makes the decentralised argmax
consistent with the centralised one.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class VDNMixer(nn.Module):
    """Q_tot = sum_i Q_i."""

    def forward(self, agent_qs: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        return agent_qs.sum(dim=-1)


def _hypernet(in_dim: int, out_dim: int, hidden: int, layers: int) -> nn.Module:
    if layers == 1:
        return nn.Linear(in_dim, out_dim)
    if layers == 2:
        return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
    raise ValueError(f"hypernet_layers must be 1 or 2, got {layers}")


class QMixer(nn.Module):
    """QMIX (Rashid et al. 2018): a two-layer mixing network whose weights are |hypernet(state)|."""

    def __init__(self, n_agents: int, state_dim: int, embed: int = 32, hypernet_hidden: int = 64,
                 hypernet_layers: int = 1) -> None:
        super().__init__()
        self.n_agents, self.embed = n_agents, embed
        self.hyper_w1 = _hypernet(state_dim, embed * n_agents, hypernet_hidden, hypernet_layers)
        self.hyper_b1 = nn.Linear(state_dim, embed)
        self.hyper_w2 = _hypernet(state_dim, embed, hypernet_hidden, hypernet_layers)
        self.hyper_b2 = nn.Sequential(nn.Linear(state_dim, embed), nn.ReLU(), nn.Linear(embed, 1))

    def forward(self, agent_qs: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        lead = agent_qs.shape[:-1]
        qs = agent_qs.reshape(-1, 1, self.n_agents)
        s = states.reshape(-1, states.shape[-1])
        w1 = self.hyper_w1(s).abs().view(-1, self.n_agents, self.embed)
        b1 = self.hyper_b1(s).view(-1, 1, self.embed)
        hidden = F.elu(torch.bmm(qs, w1) + b1)
        w2 = self.hyper_w2(s).abs().view(-1, self.embed, 1)
        b2 = self.hyper_b2(s).view(-1, 1, 1)
        return (torch.bmm(hidden, w2) + b2).view(*lead)


def make_mixer(kind: str, n_agents: int, state_dim: int, embed: int, hypernet_hidden: int,
               hypernet_layers: int) -> nn.Module:
    if kind == "vdn":
        return VDNMixer()
    if kind == "qmix":
        return QMixer(n_agents, state_dim, embed, hypernet_hidden, hypernet_layers)
    raise ValueError(f"unknown mixer {kind!r}")
