"""Reference returns of the return-scored tasks (no win condition), and how to read them.

A task without a win condition (every MPE task) is scored by its team return R normalised
per task (docs/design.md §2): score = (R - R_random) / (R_ref - R_random), so 0 is a uniform-random
policy and 1 the task's reference policy. Both numbers are measured by the suite itself and
kept in one committed table, `pps/envs/score_references.csv`, one row per (env, map):

| column | meaning |
| --- | --- |
| `env`, `map` | the task |
| `r_random`, `r_random_se`, `r_random_episodes` | mean team return of a policy uniform over each agent's |
| | available actions, its standard error, and the number of episodes |
| `r_ref`, `r_ref_se`, `r_ref_episodes` | the same for the reference policy |
| `r_ref_source` | what the reference policy is (`pps.envs.mpe_heuristics`) |
| `episode_limit`, `team_reward` | how a return is made: steps per episode, and the per-step team reward |
| `seed`, `backend_version` | the seed of the measurement, and the jaxmarl/jax versions it ran on |
| `command` | the command that (re)makes the row: `pps references ... --write` |

Returns are undiscounted sums of the backend's team reward, before `reward_scale` (the
learner's multiplier): the same quantity as `test_return_mean` in `metrics.csv`.

This module imports only pandas (no jax, no torch), so the analysis can read the table
cheaply; measuring lives in `pps.envs.references_cli`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from pps.errors import UserError

REFERENCES_FILE = "score_references.csv"
COLUMNS: tuple[str, ...] = (
    "env", "map", "r_random", "r_random_se", "r_random_episodes", "r_ref", "r_ref_se", "r_ref_episodes",
    "r_ref_source", "episode_limit", "team_reward", "seed", "backend_version", "command",
)


def references_path() -> Path:
    """The committed table inside the installed package."""
    return Path(str(resources.files("pps.envs").joinpath(REFERENCES_FILE)))


def load_references(path: str | Path | None = None) -> pd.DataFrame:
    """The reference table (one row per env, map), checked for its columns and for R_ref != R_random."""
    path = Path(path) if path is not None else references_path()
    if not path.is_file():
        raise UserError(f"No reference table at {path}; make it with: pps references --write")
    table = pd.read_csv(path, dtype={"env": str, "map": str}, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise UserError(f"Reference table {path} lacks column(s) {', '.join(missing)}.")
    duplicated = table[table.duplicated(["env", "map"], keep=False)]
    if len(duplicated):
        pairs = sorted(set(zip(duplicated.env, duplicated.map)))
        raise UserError(f"Reference table {path} has more than one row for {pairs}.")
    flat = table[np.isclose(table["r_ref"], table["r_random"])]
    if len(flat):
        raise UserError(f"Reference table {path}: R_ref equals R_random for {list(flat['map'])}; no score can be made.")
    return table[list(COLUMNS)]


def reference_returns(env: str, map_name: str, table: pd.DataFrame | None = None) -> tuple[float, float]:
    """(R_random, R_ref) of one task; UserError naming the command that makes the row if it is missing."""
    table = load_references() if table is None else table
    row = table[(table["env"] == env) & (table["map"] == map_name)]
    if row.empty:
        raise UserError(
            f"No reference returns for {env}/{map_name}; measure them with: "
            f"pps references --env {env} --map {map_name} --write"
        )
    return float(row["r_random"].iloc[0]), float(row["r_ref"].iloc[0])


def normalised_score(returns, env: str, map_name: str, table: pd.DataFrame | None = None):
    """(R - R_random) / (R_ref - R_random) for a number or an array of team returns."""
    r_random, r_ref = reference_returns(env, map_name, table)
    score = (np.asarray(returns, dtype=float) - r_random) / (r_ref - r_random)
    return float(score) if score.ndim == 0 else score
