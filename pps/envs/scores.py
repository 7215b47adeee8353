"""A task's score: the one number tables, figures and the training progress bar show.

StarCraft maps (SMAX, SMAC) end in a win or a loss, particle tasks (MPE) only pay a team
return on an arbitrary, negative scale. Every task gets a score on which 0 is a uniform-random
policy:

- a task **with a win condition** (`Backend.has_win_condition`): the test win rate;
- a task **without one**: the normalised test team return `(R - R_random) / (R_ref - R_random)`
  with the committed reference returns (`pps.envs.references`).

The rule lives here, beside the task tables, rather than in the analysis, so that training
(its progress bar, the absolute evaluation in `run.json`) and the analysis use the same
function; `pps.analysis.data.scores` builds the tables' vocabulary on top of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pps.envs.registry import BACKENDS
from pps.errors import UserError

if TYPE_CHECKING:  # pandas only for the annotation: see score_rule
    import pandas as pd

WIN_RATE = "win_rate"
NORMALISED_RETURN = "normalised_return"
KINDS: tuple[str, ...] = (WIN_RATE, NORMALISED_RETURN)  # also the order of families in figures
# What a score is called where space is short (table headers, thresholds, the progress bar).
SHORT_NAMES = {WIN_RATE: "win rate", NORMALISED_RETURN: "score"}


def score_kind(env: str) -> str:
    """`win_rate` for a backend whose episodes are won or lost, else `normalised_return`."""
    if env not in BACKENDS:
        raise UserError(
            f"Runs of env '{env}': this suite has no backend of that name ({', '.join(BACKENDS)}), so it cannot "
            f"tell whether their score is a win rate or a normalised return."
        )
    return WIN_RATE if BACKENDS[env].has_win_condition else NORMALISED_RETURN


@dataclass(frozen=True)
class ScoreRule:
    """How one task's score is made from its raw test metrics."""

    kind: str
    r_random: float = math.nan  # normalised-return tasks only
    r_ref: float = math.nan

    def __call__(self, win_rate, returns) -> np.ndarray:
        """The score of each evaluation (or episode), from its test win rate and test team return
        (raw scale). Affine, so the score of a mean is the mean of the scores."""
        if self.kind == WIN_RATE:
            return np.asarray(win_rate, float)
        return (np.asarray(returns, float) - self.r_random) / (self.r_ref - self.r_random)

    @property
    def short_name(self) -> str:
        return SHORT_NAMES[self.kind]


def score_rule(env: str, map_name: str, references: pd.DataFrame | None = None) -> ScoreRule:
    """The rule of one task; a return-scored task needs its row in the reference table
    (`references`, a DataFrame, or the committed one): a UserError names the `pps references`
    command that makes a missing one."""
    kind = score_kind(env)
    if kind == WIN_RATE:
        return ScoreRule(kind)
    # here, not at the top: the reference table needs pandas, which training on a task with a
    # win condition (and the workflow's planning) should not pay for
    from pps.envs.references import load_references, reference_returns

    r_random, r_ref = reference_returns(env, map_name, load_references() if references is None else references)
    return ScoreRule(kind, r_random, r_ref)
