"""Agent-count scaling: does a method's gain over the baseline, and its cost, change with the
number of agents?

Per (env, map, method, interval), from `final.csv` and `overhead.csv`:

- **gain** = IQM of the method's final score - IQM of the baseline's on the same map, with a
  95% percentile bootstrap CI (seeds of the two resampled independently,
  `pps.analysis.stats.bootstrap.bootstrap_ci2`, a generator seeded by (seed, cell) so the table is the
  same every time). The score is the final.csv column `pps stats` judges (win rate on
  SMAX/SMAC, normalised return on MPE), else the final test win rate of an older final.csv.
  A difference of IQMs, not a ratio: a ratio explodes where the baseline scores near 0, which
  large maps do. `rel_gain` = gain / baseline IQM is a point value, where that IQM is > 0.
- **cost** = medians over the cell's runs of learner milliseconds per update, env steps per
  second and peak resident memory per run (`overhead.csv`), since what sharing buys has to be
  weighed against what it costs as the team grows. Each is one run's own cost, its share of
  its run group's where several seeds trained in one process (`pps.run_cost`), so the
  numbers mean the same whatever `seeds_per_job` was.
- `n_agents` = the map's agent count (the suite's map tables, `pps.envs.registry`).

A scaling study needs at least `pps.analysis.outputs.MIN_AGENT_COUNTS` distinct agent counts;
with fewer, the command says so and writes nothing (the workflow only asks for these outputs
when the preset's maps have enough, see `pps.analysis.outputs.scaling_applies`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from pps.analysis.data.cells import CELL_COLUMNS, cell_mask, method_rank
from pps.analysis.data.scores import SCORE
from pps.analysis.outputs import scaling_applies
from pps.analysis.stats.bootstrap import bootstrap_ci2, rng_for
from pps.analysis.stats.estimators import iqm
from pps.analysis.studies.overhead import n_agents_of

# score columns of final.csv, most specific first, after pps.analysis.data.scores.SCORE (`score_column`)
SCORE_COLUMNS: tuple[str, ...] = ("score", "final_score", "final_test_win_rate")
COST_COLUMNS: tuple[str, ...] = ("learner_ms_per_update", "steps_per_s", "peak_rss_mb", "h_per_mstep")
COLUMNS: tuple[str, ...] = (
    "env", "map", "n_agents", "method", "interval", "score_column", "n", "iqm",
    "baseline", "baseline_n", "baseline_iqm", "gain", "gain_ci_low", "gain_ci_high", "rel_gain",
    "n_cost_runs", *COST_COLUMNS, "note",
)


def score_column(final: pd.DataFrame) -> str:
    """The column of final.csv that holds each run's final score: the one `pps stats` judges
    (`pps.analysis.data.scores.SCORE`), else the first of SCORE_COLUMNS present (older final.csv)."""
    candidates = tuple(dict.fromkeys((SCORE, *SCORE_COLUMNS)))
    for name in candidates:
        if name in final.columns:
            return name
    raise ValueError(f"final.csv has none of the score columns {', '.join(candidates)}")


def iqm_diff(x, y, axis: int = -1):
    """IQM(x) - IQM(y) along `axis` (the bootstrap statistic of `gain`)."""
    return iqm(x, axis=axis) - iqm(y, axis=axis)


def agent_counts(final: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(env, map) -> number of agents, from the suite's map tables."""
    return {(e, m): n_agents_of(e, m) for e, m in sorted(set(zip(final["env"], final["map"])))}


def enough_agent_counts(counts: Iterable[float]) -> bool:
    """Whether these (env, map) agent counts make a scaling study (unknown counts do not count)."""
    return scaling_applies(c for c in counts if math.isfinite(c))


def _select(df: pd.DataFrame, env: str, map_: str, method: str, interval) -> pd.DataFrame:
    """The rows of one cell on one map."""
    return df[(df["env"] == env) & (df["map"] == map_) & cell_mask(df, method, interval)]


def scaling_table(final: pd.DataFrame, overhead: pd.DataFrame, baseline: str, seed: int = 0) -> pd.DataFrame:
    """The `scaling.csv` table (columns COLUMNS), one row per (env, map, method, interval)."""
    score = score_column(final)
    agents = agent_counts(final)
    rows = []
    cells = final.groupby(CELL_COLUMNS, dropna=False, sort=False)
    for (env, map_, method, interval), g in cells:
        x = g[score].to_numpy(float)
        x = x[np.isfinite(x)]
        row = {
            "env": env, "map": map_, "n_agents": agents[(env, map_)], "method": method, "interval": interval,
            "score_column": score, "n": x.size, "iqm": float(iqm(x)) if x.size else math.nan, "baseline": baseline,
        }
        notes = []
        if method != baseline:
            b = _select(final, env, map_, baseline, None)[score].to_numpy(float)
            b = b[np.isfinite(b)]
            if b.size == 0 or x.size == 0:
                notes.append(f"no {baseline} runs on this map: no gain" if b.size == 0 else "no finite scores")
            else:
                row["baseline_n"] = b.size
                row["baseline_iqm"] = float(iqm(b))
                row["gain"] = row["iqm"] - row["baseline_iqm"]
                row["gain_ci_low"], row["gain_ci_high"], note = bootstrap_ci2(
                    x, b, iqm_diff, rng_for(seed, "scaling", env, map_, method, interval))
                if note:
                    notes.append(f"gain CI: {note}")
                row["rel_gain"] = row["gain"] / row["baseline_iqm"] if row["baseline_iqm"] > 0 else math.nan
        cost = _select(overhead, env, map_, method, interval) if len(overhead) else overhead
        row["n_cost_runs"] = len(cost)
        for c in COST_COLUMNS:
            v = cost[c].to_numpy(float) if c in cost else np.zeros(0)
            v = v[np.isfinite(v)]
            row[c] = float(np.median(v)) if v.size else math.nan
        if len(cost) == 0:
            notes.append("no runs in overhead.csv: no cost")
        row["note"] = "; ".join(notes)
        rows.append(row)
    out = pd.DataFrame(rows).reindex(columns=list(COLUMNS))
    out["interval"] = out["interval"].astype("Int64")
    out["baseline_n"] = out["baseline_n"].astype("Int64")
    out = out.assign(_rank=out["method"].map(method_rank))
    out = out.sort_values(["_rank", "method", "interval", "n_agents", "env", "map"], na_position="first", kind="stable")
    return out.drop(columns="_rank").reset_index(drop=True)
