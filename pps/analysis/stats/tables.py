"""The statistics tables: `stats.csv` (per map and cell) and `across_maps.csv` (pooled over maps).

Both are about `final.csv`'s `final_score` (`pps.analysis.data.scores`). Estimators and tests
are those of `pps.analysis.stats.estimators`, CIs those of `pps.analysis.stats.bootstrap`.

**Across maps** the score is already normalised: 0 is a random policy on every task (a random
policy wins 0% of every SMAX map; a normalised return is 0 at the random policy's mean
return by construction) and 1 winning every episode or matching the reference policy. The
pooled estimate is the IQM of all runs pooled over maps with a **stratified** bootstrap (runs
resampled within each map); beside it, from the same resamples, the other estimates of
Agarwal et al. (2021): the median over maps of each map's mean, the mean, and the
optimality gap (`ESTIMATE_COLUMNS`); `tasks` = "all" pools every task, and when a run of the suite
holds both score kinds, rows with `tasks` = the kind pool each family alone. Every comparison
with the baseline uses one map set, the maps both ran: `compared_iqm` is the method's IQM on
them, so `diff` = `compared_iqm` - `baseline_iqm` exactly (`iqm` is over all the method's
maps).
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from pps.analysis.data.cells import CELL_COLUMNS, method_rank
from pps.analysis.data.scores import MIXED, SCORE, WIN_RATE, ordered_kinds, task_kinds
from pps.analysis.stats.bootstrap import (
    CONFIDENCE,
    N_RESAMPLES,
    bootstrap_ci,
    bootstrap_ci2,
    mean_diff,
    percentile_ci,
    relative_ci,
    rng_for,
    stratified_resample,
    zero_width,
)
from pps.analysis.stats.estimators import (
    STATISTICS,
    fdr_bh,
    hedges_g,
    iqm,
    mannwhitney_p,
    mean,
    median_of_means,
    optimality_gap,
    probability_of_improvement,
    probability_of_improvement_batch,
    welch_p,
)

# across_maps.csv's columns after `note` (appended, so the earlier columns keep their places):
# the other across-map estimates of Agarwal et al. (2021) beside the IQM, each with its stratified CI from
# the IQM's resamples. `median` = the median over maps of each map's mean score; `mean` (the
# pooled mean, an earlier column) gets its CI here; `optimality_gap` = mean of max(1 - score, 0).
ESTIMATE_COLUMNS: tuple[str, ...] = (
    "median", "median_ci_low", "median_ci_high", "mean_ci_low", "mean_ci_high",
    "optimality_gap", "optimality_gap_ci_low", "optimality_gap_ci_high",
)


def cell_stats(final: pd.DataFrame, baseline: str, seed: int, score: str = SCORE) -> pd.DataFrame:
    """The `stats.csv` table: one row per (env, map, method, interval)."""
    kinds = task_kinds(final)
    rows = []
    groups = final.groupby(CELL_COLUMNS, dropna=False, sort=False)
    samples = {k: g[score].to_numpy(float) for k, g in groups}
    samples = {k: v[np.isfinite(v)] for k, v in samples.items()}
    for key, x in samples.items():
        env, map_, method, interval = key
        row = {"env": env, "map": map_, "method": method, "interval": interval, "score_kind": kinds[(env, map_)],
               "n": x.size}
        notes = []
        for name, fn in STATISTICS.items():
            row[name] = float(fn(x)) if x.size else np.nan
            lo, hi, note = bootstrap_ci(x, fn, rng_for(seed, name, *key))
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = lo, hi
            if note and note not in notes:
                notes.append(note)
        row["std"] = float(np.std(x, ddof=1)) if x.size > 1 else np.nan
        base = next((v for k, v in samples.items() if k[:3] == (env, map_, baseline)), None)
        row["baseline"] = baseline
        if method == baseline:
            pass
        elif base is None or base.size == 0:
            notes.append(f"no {baseline} runs on this map: no comparison")
        else:
            row["baseline_n"] = base.size
            row["baseline_mean"] = float(base.mean())
            row["diff"] = float(x.mean() - base.mean()) if x.size else np.nan
            lo, hi, note = bootstrap_ci2(x, base, mean_diff, rng_for(seed, "diff", *key))
            row["diff_ci_low"], row["diff_ci_high"] = lo, hi
            row["welch_p"] = welch_p(x, base)
            row["mannwhitney_p"] = mannwhitney_p(x, base)
            row["hedges_g"] = hedges_g(x, base)
            row["prob_improvement"] = probability_of_improvement(x, base)
            lo, hi, note2 = bootstrap_ci2(x, base, probability_of_improvement_batch, rng_for(seed, "pi", *key))
            row["pi_ci_low"], row["pi_ci_high"] = lo, hi
            if not note2 and zero_width(lo, hi):
                note2 = (f"P(> {baseline}) CI has zero width: every resample separates the two samples "
                         f"completely (n = {x.size} vs {base.size}), which is not certainty")
            for n in (note, note2):
                if n and n not in notes:
                    notes.append(n)
        row["note"] = "; ".join(notes)
        rows.append(row)
    columns = [
        "env", "map", "method", "interval", "score_kind", "n",
        "mean", "mean_ci_low", "mean_ci_high", "median", "median_ci_low", "median_ci_high",
        "iqm", "iqm_ci_low", "iqm_ci_high", "std",
        "baseline", "baseline_n", "baseline_mean", "diff", "diff_ci_low", "diff_ci_high",
        "welch_p", "welch_p_fdr", "mannwhitney_p", "mannwhitney_p_fdr",
        "hedges_g", "prob_improvement", "pi_ci_low", "pi_ci_high", "note",
    ]
    out = pd.DataFrame(rows).reindex(columns=columns)
    out["welch_p_fdr"] = fdr_bh(out["welch_p"])
    out["mannwhitney_p_fdr"] = fdr_bh(out["mannwhitney_p"])
    out["interval"] = out["interval"].astype("Int64")
    out["baseline_n"] = out["baseline_n"].astype("Int64")
    out["_rank"] = out["method"].map(method_rank)
    out = out.sort_values(["env", "map", "_rank", "method", "interval"], na_position="first", kind="stable")
    return out.drop(columns="_rank").reset_index(drop=True)


def across_maps(final: pd.DataFrame, baseline: str, seed: int, score: str = SCORE) -> pd.DataFrame:
    """The `across_maps.csv` table: per (tasks, method, interval), pooled over (env, map) strata.

    `tasks` = "all" pools every task; when the runs hold both score kinds (win rate and
    normalised return), each kind is also pooled alone under `tasks` = the kind, so that a
    family's pooled rows can be read without the other's (`score_kind` says what a row pools:
    a kind, or "mixed")."""
    kinds = task_kinds(final)
    families = ordered_kinds(kinds.values())
    parts = [_pooled_rows(final, baseline, seed, score, "all", families[0] if len(families) == 1 else MIXED)]
    if len(families) > 1:
        for kind in families:
            mine = [kinds[(e, m)] == kind for e, m in zip(final["env"], final["map"])]
            parts.append(_pooled_rows(final[mine], baseline, seed, score, kind, kind))
    columns = [
        "tasks", "score_kind", "method", "interval", "n_maps", "n_total_maps", "n_runs", "maps", "iqm", "iqm_ci_low",
        "iqm_ci_high", "mean", "compared_maps", "compared_iqm", "baseline_iqm", "diff", "diff_ci_low", "diff_ci_high",
        "rel_improvement", "rel_ci_low", "rel_ci_high", "prob_improvement", "pi_ci_low", "pi_ci_high", "note",
        *ESTIMATE_COLUMNS,
    ]
    out = pd.DataFrame([r for part in parts for r in part]).reindex(columns=columns)
    out["interval"] = out["interval"].astype("Int64")
    out["compared_maps"] = out["compared_maps"].astype("Int64")
    out["_rank"] = out["method"].map(method_rank)
    out["_tasks"] = out["tasks"].map({"all": 0, **{k: i + 1 for i, k in enumerate(families)}})
    out = out.sort_values(["_tasks", "_rank", "method", "interval"], na_position="first", kind="stable")
    return out.drop(columns=["_rank", "_tasks"]).reset_index(drop=True)


def _pooled_rows(final: pd.DataFrame, baseline: str, seed: int, score: str, tasks: str, kind: str) -> list[dict]:
    """The rows of `across_maps.csv` for one pool of tasks (see `across_maps`). The
    bootstrap of the "all" pool draws from the generator it always drew from, so adding the
    family pools changes none of its numbers."""
    strata_all = sorted({(e, m) for e, m in zip(final["env"], final["map"])})
    by_cell: dict[tuple, dict[tuple, np.ndarray]] = {}
    for (env, map_, method, interval), g in final.groupby(CELL_COLUMNS, dropna=False, sort=False):
        v = g[score].to_numpy(float)
        v = v[np.isfinite(v)]
        if v.size:
            by_cell.setdefault((method, interval), {})[(env, map_)] = v
    base = next((d for (m, _), d in by_cell.items() if m == baseline), None)
    at_most = "0" if kind == WIN_RATE else "at or below 0 (random)"
    rows = []
    for (method, interval), strata in by_cell.items():
        keys = sorted(strata)
        xs = [strata[k] for k in keys]
        pooled = np.concatenate(xs)
        # "aggregate" is the generator's historical key (the file's old name): renaming it would
        # change every CI of the table
        key = (method, interval) if tasks == "all" else (tasks, method, interval)
        rng = rng_for(seed, "aggregate", *key)
        row = {
            "tasks": tasks, "score_kind": kind,
            "method": method, "interval": interval, "n_maps": len(keys), "n_total_maps": len(strata_all),
            "n_runs": pooled.size, "maps": " ".join(f"{e}/{m}" for e, m in keys),
            "iqm": float(iqm(pooled)),
        }
        sizes = [x.size for x in xs]
        estimates = {"median": partial(median_of_means, sizes=sizes), "mean": mean, "optimality_gap": optimality_gap}
        row.update({name: float(fn(pooled)) for name, fn in estimates.items()})
        notes = []
        if pooled.size >= 2 and np.ptp(pooled) > 0:
            # one set of resamples for every estimate, drawn as the IQM's always were
            boot = stratified_resample(xs, rng)
            row["iqm_ci_low"], row["iqm_ci_high"] = percentile_ci(iqm(boot, axis=1))
            for name, fn in estimates.items():
                row[f"{name}_ci_low"], row[f"{name}_ci_high"] = percentile_ci(fn(boot))
        else:
            for name in ("iqm", *estimates):
                row[f"{name}_ci_low"] = row[f"{name}_ci_high"] = row[name] if pooled.size >= 2 else np.nan
            notes.append("degenerate sample: CI is the point value" if pooled.size >= 2 else "n<2: no CI")
        if len(keys) < len(strata_all):
            notes.append(f"runs on {len(keys)} of {len(strata_all)} maps")
        if method != baseline and base is not None:
            shared = [k for k in keys if k in base]
            row["compared_maps"] = len(shared)
            if shared:
                xm = [strata[k] for k in shared]
                xb = [base[k] for k in shared]
                bm, bb = np.concatenate(xm), np.concatenate(xb)
                row["compared_iqm"] = float(iqm(bm))
                row["baseline_iqm"] = float(iqm(bb))
                row["diff"] = row_diff = row["compared_iqm"] - row["baseline_iqm"]
                row["rel_improvement"] = row_diff / row["baseline_iqm"] if row["baseline_iqm"] > 0 else np.nan
                if len(shared) < len(keys):
                    notes.append(f"compared with {baseline} on the {len(shared)} map(s) both ran (compared_iqm)")
                dm = iqm(stratified_resample(xm, rng), axis=1)
                db = iqm(stratified_resample(xb, rng), axis=1)
                row["diff_ci_low"], row["diff_ci_high"] = percentile_ci(dm - db)
                if row["baseline_iqm"] > 0:
                    row["rel_ci_low"], row["rel_ci_high"] = relative_ci(dm, db)
                    if np.mean(db <= 0) > (1 - CONFIDENCE) / 2:
                        notes.append(f"{baseline}'s IQM was {at_most} in more than 2.5% of resamples: the relative CI "
                                     f"reaches infinity")
                else:
                    notes.append(f"{baseline} IQM is {at_most}: relative improvement undefined")
                # average over maps of the per-map probability of improvement
                pis = [probability_of_improvement(a, b) for a, b in zip(xm, xb)]
                row["prob_improvement"] = float(np.mean(pis))
                boot = np.mean([
                    probability_of_improvement_batch(a[rng.integers(0, a.size, (N_RESAMPLES, a.size))],
                                                     b[rng.integers(0, b.size, (N_RESAMPLES, b.size))])
                    for a, b in zip(xm, xb)
                ], axis=0)
                row["pi_ci_low"], row["pi_ci_high"] = percentile_ci(boot)
                if zero_width(row["pi_ci_low"], row["pi_ci_high"]):
                    notes.append(f"P(> {baseline}) CI has zero width (complete separation at this n), not certainty")
            else:
                notes.append(f"no map shared with {baseline}: no comparison")
        row["note"] = "; ".join(notes)
        rows.append(row)
    return rows
