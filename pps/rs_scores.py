"""RS-PPS scores: swap-evaluation returns on one task-relative scale.

RS-PPS weights a group's networks by softmax(score / `rs_temperature`). A temperature only
means something against the scale of the scores, and raw team returns have a different
scale on every backend (SMAX pays at most 2 per episode, SMAC 20, an MPE task about -25 to
-200 with no upper bound that any policy reaches). So a score is the task's normalised
return: 0 is a task's floor and 1 what solving it pays,

    score = (R - zero) / (one - zero)

- win-condition backends (SMAC, SMAX): zero = 0 and one = the backend's `max_return`
  (SMAC: 20, its `reward_scale_rate`; SMAX: 2, all enemy health plus the win bonus);
- return-scored tasks (MPE): zero = R_random and one = R_ref from the committed reference
  table (`pps.envs.references`), the same normalisation as the task's reported score.

A temperature T then reads the same everywhere: candidates whose scores differ by T (a
fraction T of the way from the floor to solved) get weights in the ratio e. Returns are
the backend's raw ones: the learner's `reward_scale` is an optimisation knob and changes
nothing here. The softmax ignores `zero` (it shifts every candidate alike); it is kept so
that a score is readable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from pps.envs import registry


@dataclass(frozen=True)
class ScoreScale:
    """The affine map from a task's raw team return to its RS-PPS score."""

    zero: float  # the return scored 0
    one: float  # the return scored 1
    basis: str  # where the two numbers come from, for run.json

    def __post_init__(self) -> None:
        if not self.one > self.zero:
            raise ValueError(f"an RS score scale needs one > zero, got zero={self.zero}, one={self.one}")

    def __call__(self, returns: torch.Tensor) -> torch.Tensor:
        """Scores of raw team returns (any shape), in float64 like the softmax that reads them."""
        return (returns.double() - self.zero) / (self.one - self.zero)

    def to_record(self) -> dict[str, Any]:
        """run.json's `rs_score_scale`: score = (return - zero) / (one - zero)."""
        return {"zero": self.zero, "one": self.one, "basis": self.basis}


def score_scale(env: str, map_name: str) -> ScoreScale:
    """The scale of one task. A return-scored task without a reference row is a UserError
    naming the command that measures it (raised before any training)."""
    spec = registry.backend(env)
    if spec.max_return is not None:
        return ScoreScale(0.0, float(spec.max_return),
                          f"fraction of {env}'s largest episode return ({spec.max_return:g})")
    from pps.envs.references import reference_returns  # pandas: only for return-scored tasks

    r_random, r_ref = reference_returns(env, map_name)
    return ScoreScale(r_random, r_ref,
                      f"normalised return of {env}/{map_name}: 0 = uniform-random policy, "
                      f"1 = reference policy (pps/envs/score_references.csv)")
