"""Parameter-sharing schemes and the periodic aggregation rules of A-, RS- and PP-PPS (docs/design.md §3).

Independent agents keep one parameter slot each. Every `interval` learner updates a PPS
method replaces the slots of each sharing group by a weighted mean of them:

- A-PPS:  plain mean of all parameters;
- RS-PPS: mean weighted by softmax(reward score / temperature) over the group;
- PP-PPS: plain mean of the `pp_shared` tensors only, the rest stays personal.

The operation is exact: after an A-PPS event every member slot equals, element for
element, the group mean (one weighted sum, then the same tensor copied into every member).
The optimiser's per-slot state follows the `opt_state_on_aggregate` policy: `keep` it,
`average` it like the parameters, or `reset` it so that each aggregated slot continues as
with a fresh optimiser (`pps.slot_optimizer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from pps.methods import Method
from pps.slot_optimizer import SlotOptimizer

OPT_STATE_POLICIES = ("keep", "average", "reset")


def sharing_groups(unit_types: Sequence[int], mode: str) -> list[list[int]]:
    """Agent indices that aggregate together: one group (`all`) or one per unit type (`unit_type`)."""
    n = len(unit_types)
    if mode == "all":
        return [list(range(n))]
    if mode == "unit_type":
        by_type: dict[int, list[int]] = {}
        for agent, kind in enumerate(unit_types):
            by_type.setdefault(int(kind), []).append(agent)
        return list(by_type.values())
    raise ValueError(f"unknown grouping {mode!r}; valid: all, unit_type")


def reward_weights(scores: torch.Tensor, groups: list[list[int]], temperature: float) -> torch.Tensor:
    """Per-agent weights `[N]`: softmax(score / temperature) within each group (each group sums to 1)."""
    weights = torch.zeros(len(scores), dtype=torch.float64)
    for members in groups:
        idx = torch.tensor(members)
        weights[idx] = torch.softmax(scores[idx].double() / temperature, dim=0)
    return weights


def uniform_weights(n_agents: int, groups: list[list[int]]) -> torch.Tensor:
    weights = torch.zeros(n_agents, dtype=torch.float64)
    for members in groups:
        weights[members] = 1.0 / len(members)
    return weights


@torch.no_grad()
def _mix_slots(tensor: torch.Tensor, groups: list[list[int]], weights: torch.Tensor) -> None:
    """In place: each group's slots <- their weighted mean (weights sum to 1 within a group)."""
    for members in groups:
        if len(members) < 2:
            continue
        idx = torch.tensor(members, device=tensor.device)
        w = weights[members].to(device=tensor.device, dtype=torch.float64)
        w = w.view(-1, *([1] * (tensor.dim() - 1)))
        mean = (tensor[idx].double() * w).sum(dim=0).to(tensor.dtype)
        tensor[idx] = mean.unsqueeze(0).expand(len(members), *mean.shape)


@dataclass(frozen=True)
class Aggregator:
    """What one aggregation event does to the agent slots and the optimiser state."""

    method: Method
    groups: list[list[int]]
    pp_shared: tuple[str, ...]
    opt_state_policy: str = "keep"

    def parameter_names(self, agents: torch.nn.Module) -> list[str]:
        names = [n for n, _ in agents.named_parameters()]
        if self.method.aggregation == "partial_mean":
            unknown = sorted(set(self.pp_shared) - set(names))
            if unknown:
                raise ValueError(f"pp_shared names {unknown} are not agent parameters; valid: {names}")
            return [n for n in names if n in self.pp_shared]
        return names

    def weights(self, n_agents: int, scores: torch.Tensor | None, temperature: float) -> torch.Tensor:
        if self.method.aggregation == "reward_weighted":
            if scores is None:
                raise ValueError("RS-PPS needs reward scores")
            return reward_weights(scores, self.groups, temperature)
        return uniform_weights(n_agents, self.groups)

    @torch.no_grad()
    def apply(self, agents: torch.nn.Module, optimizer: SlotOptimizer | None, weights: torch.Tensor) -> None:
        params = dict(agents.named_parameters())
        aggregated = [members for members in self.groups if len(members) > 1]
        for name in self.parameter_names(agents):
            param = params[name]
            _mix_slots(param.data, self.groups, weights)
            if optimizer is None or self.opt_state_policy == "keep":
                continue
            if self.opt_state_policy == "reset":  # each aggregated slot starts a fresh optimiser
                optimizer.restart(param, [agent for members in aggregated for agent in members])
                continue
            for value in optimizer.optimizer.state.get(param, {}).values():
                if torch.is_tensor(value) and value.shape == param.shape:  # not Adam's shared `step`
                    _mix_slots(value, self.groups, weights)
