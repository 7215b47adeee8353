"""Every task's *score*, the one number thresholds, statistics, claims and figures work on.

Task families differ in what an episode yields: StarCraft maps (SMAX, SMAC) end in a win or
a loss, particle tasks (MPE) only pay a team return on an arbitrary, negative scale. So that
one analysis serves both, every task gets a score on which 0 is a uniform-random policy:

- a task **with a win condition** (`Backend.has_win_condition`): the test win rate. A random
  policy wins 0% of every SMAX map (docs/design.md §3) and 1 means winning every episode, so this is
  already the min-max normalisation with those anchors, and SMAX results are unchanged;
- a task **without one**: the normalised test team return
  `(R - R_random) / (R_ref - R_random)`, with `R_random` a uniform-random policy's mean return
  and `R_ref` a scripted reference policy's, both from the committed table
  `pps/envs/score_references.csv` (`pps.envs.references`, made by `pps references`). The
  anchors are fixed per task, never taken from the runs, so a score does not change with
  the set of methods that ran. Unlike a win rate it is not bounded: below 0 is worse than
  random (an untrained greedy policy often is), above 1 beats the reference heuristic.

The normalisation is affine, so it commutes with every average the analysis takes (grid
interpolation, the mean of the last evaluations): normalising the mean return equals
averaging the normalised returns.

The rule (`ScoreRule`, `score_rule`, `score_kind`) is `pps.envs.scores`'s, re-exported here: the
training progress bar and `run.json`'s absolute evaluation use the same function.

The *family* of a task is its score kind; figures give each family its own panels and axis
label, and the claims that only make sense for win rates say "not applicable" on the other.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

# The rule itself lives with the task tables, so that training shows the same score (docs/design.md §7).
from pps.envs.scores import KINDS as KINDS
from pps.envs.scores import NORMALISED_RETURN as NORMALISED_RETURN
from pps.envs.scores import SHORT_NAMES
from pps.envs.scores import WIN_RATE as WIN_RATE
from pps.envs.scores import ScoreRule as ScoreRule
from pps.envs.scores import score_kind as score_kind
from pps.envs.scores import score_rule as score_rule

SCORE_METRIC = "score"  # the `metric` of the score's rows in curves.csv
SCORE = "final_score"  # the final.csv column every statistic, claim and figure is about
MIXED = "mixed"  # across_maps.csv: rows pooling tasks of both kinds

# Axis labels and the short name used in table headers ("win rate ≥ 0.5" / "score ≥ 0.5").
_LABELS = {WIN_RATE: "test win rate", NORMALISED_RETURN: "normalised score"}
_SHORT = SHORT_NAMES


def task_kinds(df: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(env, map) -> score kind for every task in a results table: its `score_kind` column where
    it has one (what `pps collect` decided), else the backend's."""
    out = {}
    for (env, map_), g in df.groupby(["env", "map"], sort=True):
        given = g["score_kind"].dropna() if "score_kind" in g.columns else ()
        out[(env, map_)] = str(given.iloc[0]) if len(given) else score_kind(env)
    return out


def ordered_kinds(kinds: Iterable[str]) -> list[str]:
    """The distinct kinds in figure order (win rate first)."""
    present = set(kinds)
    return [k for k in KINDS if k in present]


def label(kind: str) -> str:
    """The axis label of a family: 'test win rate' or 'normalised score' ('score' if mixed)."""
    return _LABELS.get(kind, "score")


def short(kinds: Iterable[str]) -> str:
    """'win rate' when every task is won or lost (or there is none), else 'score' (table
    headers, thresholds)."""
    return _SHORT[WIN_RATE] if bounded(kinds) else "score"


def bounded(kinds: Iterable[str]) -> bool:
    """Whether every task's score is capped at 1 (win rates are; normalised returns are not).
    True for no task at all, so that texts about an empty table read as they always did."""
    return set(kinds) <= {WIN_RATE}


NORMALISED_TEXT = ("normalised score = (R − R_random) / (R_ref − R_random) of the test team return R, with a uniform-"
                   "random policy's mean return R_random (score 0) and a scripted reference policy's R_ref (score 1) "
                   "per task from pps/envs/score_references.csv")


def describe(kinds: Iterable[str], lead: str = "Score: ") -> str:
    """One sentence for captions, `lead` + what the score is on the tasks present."""
    present = set(kinds)
    if present <= {WIN_RATE}:
        return f"{lead}the test win rate (0 = a random policy on every SMAX map, 1 = every episode won)."
    if present == {NORMALISED_RETURN}:
        return f"{lead}the {NORMALISED_TEXT}; it can fall below 0 or exceed 1."
    return (f"{lead}the test win rate on tasks with a win condition; on the others the {NORMALISED_TEXT} (it can "
            f"fall below 0 or exceed 1). Both are 0 for a random policy.")
