"""Run-stacked tensors: a run group's state split into runs and joined back (docs/design.md §3).

Every tensor a run group trains (agent slots, mixer layers, their targets, optimiser
moments, slot restart steps) has a leading dimension of R equal run blocks, run after run.
A run's checkpoint holds its own block of each, in the very format a run alone writes, so a
run can resume alone or in any group: `split` takes run r's block, `join` stacks R runs'.
Scalars (Adam's shared `step`, the update count) are the same for every run of a group.
"""

from __future__ import annotations

from typing import Any

import torch


def block(tensor: torch.Tensor, run: int, n_runs: int) -> torch.Tensor:
    """Run `run`'s block of a run-stacked tensor, as a copy (a view would save the whole storage)."""
    if n_runs == 1:
        return tensor
    k = tensor.shape[0] // n_runs
    return tensor[run * k:(run + 1) * k].clone()


def split(value: Any, run: int, n_runs: int) -> Any:
    """Run `run`'s share of a (nested) state: tensors whose leading size is a multiple of R
    and not a scalar are sliced; everything else (scalars, hyperparameters) is kept."""
    if isinstance(value, dict):
        return {k: split(v, run, n_runs) for k, v in value.items()}
    if isinstance(value, list):
        return [split(v, run, n_runs) for v in value]
    if torch.is_tensor(value) and value.dim() > 0 and value.shape[0] % n_runs == 0:
        return block(value, run, n_runs)
    return value


def join(values: list[Any]) -> Any:
    """The inverse of `split` over every run: tensors concatenated along their leading
    dimension; scalars and other values must agree across runs (a group trains in lockstep)."""
    first = values[0]
    if len(values) == 1:
        return first
    if isinstance(first, dict):
        return {k: join([v[k] for v in values]) for k in first}
    if isinstance(first, list):
        return [join([v[i] for v in values]) for i in range(len(first))]
    if torch.is_tensor(first) and first.dim() > 0:
        return torch.cat(values, dim=0)
    for other in values[1:]:
        same = torch.equal(other, first) if torch.is_tensor(first) else other == first
        if not same:
            raise ValueError(f"runs of one group disagree on a shared value ({first!r} vs {other!r})")
    return first
