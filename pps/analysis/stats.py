"""Statistics of final scores: point estimates, bootstrap CIs, tests against a baseline, FDR.

Everything here works on `final.csv`'s `final_score` (`pps.analysis.scores`): the test win
rate on tasks with a win condition, the normalised test return on the others.

Conventions (DESIGN §6):

- **IQM** = `scipy.stats.trim_mean(x, 0.25)`: the mean of the middle 50% of runs. It trims
  floor(n/4) runs from each end, so with n <= 3 it *is* the mean and with n = 4 the median
  (`iqm_small_n_note` says so wherever a table shows such an IQM).
- **CIs** are 95% *percentile* bootstrap intervals (`scipy.stats.bootstrap`, `N_RESAMPLES`
  resamples: enough that the Monte Carlo error of a bound is a small fraction of a win-rate
  point, see `benchmarks/calibrate_claims.py`).
  Percentile rather than BCa because BCa's jackknife acceleration is undefined or unstable
  at 3-5 seeds. Each CI draws from its own generator seeded by `(bootstrap_seed, cell key)`,
  so a table is byte-identical every time it is made and a cell's CI does not change when
  other methods or maps are added. With fewer than 2 values the CI is NaN; with all values
  equal it is the point value; both cases say so in the `note` column, and so does any
  interval of zero width (at n = 3, "P(> QMIX) = 0.00 [0.00, 0.00]" means every resample
  separated the samples, not certainty). At 3-5 seeds a percentile bootstrap under-covers:
  read the CIs as optimistic. The paper's claims are judged with calibrated tests (`claims`).
- **Versus the baseline** (same env and map): difference of means (with a two-sample
  bootstrap CI), Welch's t-test and the two-sided Mann-Whitney U test (exact permutation
  p-value that stays exact when win rates tie, `pps.analysis.ranktests`), each
  Benjamini-Hochberg-adjusted across the whole family of comparisons in the table
  (`scipy.stats.false_discovery_control`); **effect size** = Hedges' g (Cohen's d with the
  pooled SD and the small-sample correction J = 1 - 3 / (4 (n_x + n_y) - 9)); **probability
  of improvement** = U / (n_x n_y) = P(X > Y) + P(X = Y) / 2.
- **Across maps** the score is already normalised: 0 is a random policy on every task (a
  random policy wins 0% of every SMAX map; a normalised return is 0 at the random policy's
  mean return by construction) and 1 winning every episode or matching the reference
  policy. The aggregate is the IQM of all runs pooled over maps with a **stratified**
  bootstrap (runs resampled within each map), as in Agarwal et al. 2021 ("Deep RL at the
  edge of the statistical precipice"): `tasks` = "all" pools every task, and when a run of
  the suite holds both score kinds, rows with `tasks` = the kind pool each family alone.
  Every comparison with the baseline uses one map set, the maps both ran: `compared_iqm` is
  the method's IQM on them, so `diff` = `compared_iqm` - `baseline_iqm` exactly (`iqm` is
  over all the method's maps).
- **Relative improvement** = IQM / baseline IQM - 1, defined where the baseline beats the
  random policy (IQM > 0). In a resample where it does not: +inf if the method's IQM is above
  0, 0 if both are equal (win rates: both 0), and undefined otherwise (both at or below
  random, which only normalised returns can be); `relative_ci` counts undefined resamples at
  the least favourable end of each bound, so no resample is dropped and none makes an
  interval narrower than the data allow.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

N_RESAMPLES = 20_000
BATCH = 2_000  # resamples per vectorised call: the pairwise P(X > Y) statistic holds B x n_x x n_y values
CONFIDENCE = 0.95
CI_METHOD = f"95% percentile bootstrap CI ({N_RESAMPLES} resamples)"
STRATIFIED_CI_METHOD = f"95% stratified percentile bootstrap CI ({N_RESAMPLES} resamples)"
SCORE = "final_score"  # the final.csv column every statistic, claim and figure is about


# --------------------------------------------------------------------------- point statistics
def iqm(x, axis: int = -1):
    """Interquartile mean: `scipy.stats.trim_mean(x, 0.25)`."""
    return sps.trim_mean(x, 0.25, axis=axis)


def iqm_small_n_note(ns) -> str:
    """The sentence a table needs when some IQM is really a mean (n <= 3) or a median (n = 4):
    trim_mean(x, 0.25) cuts floor(n/4) runs from each end, so it trims nothing below 4 runs."""
    ns = {int(n) for n in ns if n is not None and np.isfinite(n) and n > 0}
    parts = []
    if any(n <= 3 for n in ns):
        parts.append("with 3 seeds or fewer the IQM is the mean")
    if 4 in ns:
        parts.append("with 4 seeds it is the median (the middle two runs)")
    return ("Note: " + " and ".join(parts) + ", since the IQM trims a quarter of the runs from each end, "
            "rounded down.") if parts else ""


def mean(x, axis: int = -1):
    return np.mean(x, axis=axis)


def median(x, axis: int = -1):
    return np.median(x, axis=axis)


STATISTICS: dict[str, Callable] = {"mean": mean, "median": median, "iqm": iqm}


def probability_of_improvement(x, y) -> float:
    """P(X > Y) + P(X = Y)/2 over all pairs = Mann-Whitney U_x / (n_x n_y)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size == 0 or y.size == 0:
        return np.nan
    return float(sps.mannwhitneyu(x, y, alternative="two-sided").statistic / (x.size * y.size))


def _pi_vectorised(x, y, axis: int = -1):
    """Probability of improvement along `axis` for batched samples (bootstrap statistic)."""
    x = np.moveaxis(np.asarray(x, float), axis, -1)[..., :, None]
    y = np.moveaxis(np.asarray(y, float), axis, -1)[..., None, :]
    return ((x > y) + 0.5 * (x == y)).mean(axis=(-2, -1))


def hedges_g(x, y) -> float:
    """Standardised mean difference with the small-sample correction; NaN when undefined."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    nx, ny = x.size, y.size
    if nx < 2 or ny < 2:
        return np.nan
    pooled = np.sqrt(((nx - 1) * x.var(ddof=1) + (ny - 1) * y.var(ddof=1)) / (nx + ny - 2))
    if pooled == 0:
        return np.nan
    return float((1 - 3 / (4 * (nx + ny) - 9)) * (x.mean() - y.mean()) / pooled)


def welch_p(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or y.size < 2 or (np.ptp(x) == 0 and np.ptp(y) == 0):
        return np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(sps.ttest_ind(x, y, equal_var=False).pvalue)


def mannwhitney_p(x, y, alternative: str = "two-sided") -> float:
    """Exact permutation p of the Mann-Whitney U test, ties included (see `ranktests`)."""
    from pps.analysis.ranktests import mann_whitney_exact

    return mann_whitney_exact(x, y, alternative)


def fdr_bh(p: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaNs stay NaN and are not counted in the family."""
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = sps.false_discovery_control(p[ok], method="bh")
    return out


# --------------------------------------------------------------------------- bootstrap
def rng_for(seed: int, *key) -> np.random.Generator:
    """A generator that depends only on the bootstrap seed and the cell's key (stable tables)."""
    return np.random.default_rng([int(seed), zlib.crc32(repr(tuple(str(k) for k in key)).encode())])


def bootstrap_ci(x, statistic: Callable, rng: np.random.Generator, n_resamples: int = N_RESAMPLES) -> tuple[float, float, str]:
    """Percentile CI of `statistic(x, axis=-1)`; (lo, hi, note), never raising on tiny samples."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return np.nan, np.nan, f"n={x.size}: no CI"
    if np.ptp(x) == 0:
        v = float(statistic(x))
        return v, v, "all values equal: CI is the point value"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sps.bootstrap((x,), statistic, n_resamples=n_resamples, confidence_level=CONFIDENCE,
                            method="percentile", vectorized=True, axis=-1, random_state=rng, batch=BATCH)
    return float(res.confidence_interval.low), float(res.confidence_interval.high), ""


def bootstrap_ci2(x, y, statistic: Callable, rng: np.random.Generator) -> tuple[float, float, str]:
    """Percentile CI of `statistic(x, y, axis=-1)`, x and y resampled independently."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size < 2 or y.size < 2:
        return np.nan, np.nan, f"n={x.size} vs {y.size}: no CI"
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        v = float(statistic(x, y))
        return v, v, "all values equal: CI is the point value"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sps.bootstrap((x, y), statistic, n_resamples=N_RESAMPLES, confidence_level=CONFIDENCE,
                            method="percentile", vectorized=True, axis=-1, random_state=rng, batch=BATCH)
    return float(res.confidence_interval.low), float(res.confidence_interval.high), ""


def _mean_diff(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def percentile_ci(dist: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile interval of a bootstrap distribution. Infinite values are kept (a resample
    whose ratio is unbounded counts, it is not dropped); NaN is an error: the caller must say
    what an undefined resample means (see `convergence.ratio_ci`)."""
    dist = np.asarray(dist, float).ravel()
    if dist.size == 0:
        return np.nan, np.nan
    if np.isnan(dist).any():
        raise ValueError("percentile_ci: NaN in the bootstrap distribution; resolve undefined resamples first")
    a = (1 - confidence) / 2
    # linear interpolation as scipy.stats.bootstrap, except with infinities (inf - inf is NaN)
    method = "linear" if np.isfinite(dist).all() else "inverted_cdf"
    lo, hi = np.quantile(dist, [a, 1 - a], method=method)
    return float(lo), float(hi)


def zero_width(lo, hi) -> bool:
    """A finite interval of zero width: a degenerate bootstrap, not certainty."""
    return bool(np.isfinite(lo) and np.isfinite(hi) and lo == hi)


def relative_resamples(dm: np.ndarray, db: np.ndarray) -> np.ndarray:
    """dm / db - 1 per resample; where db <= 0 (the baseline no better than random): +inf if
    dm > 0, 0 if dm == db, NaN (undefined) otherwise. Win rates are never negative, so for
    them db <= 0 means db = 0 and the result is never NaN."""
    dm, db = np.asarray(dm, float), np.asarray(db, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(db > 0, dm / db - 1, np.where(dm > 0, np.inf, np.where(dm == db, 0.0, np.nan)))


def relative_ci(dm: np.ndarray, db: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile CI of the relative improvement over resamples of the two IQMs, undefined
    resamples taken at the least favourable end of each bound (-inf for the lower, +inf for
    the upper): the interval is then conservative, never narrower than the data allow."""
    rel = relative_resamples(dm, db)
    lo, _ = percentile_ci(np.where(np.isnan(rel), -np.inf, rel), confidence)
    _, hi = percentile_ci(np.where(np.isnan(rel), np.inf, rel), confidence)
    return lo, hi


def stratified_resample(strata: Sequence[np.ndarray], rng: np.random.Generator, n: int = N_RESAMPLES) -> np.ndarray:
    """[n, sum(n_k)] resamples: each stratum (map) resampled with replacement on its own."""
    parts = [s[rng.integers(0, s.size, size=(n, s.size))] for s in strata]
    return np.concatenate(parts, axis=1)


# --------------------------------------------------------------------------- tables
def cell_stats(final: pd.DataFrame, baseline: str, seed: int, score: str = SCORE) -> pd.DataFrame:
    """The `stats.csv` table: one row per (env, map, method, interval)."""
    from pps.analysis.scores import task_kinds
    from pps.analysis.style import method_rank

    kinds = task_kinds(final)
    rows = []
    groups = final.groupby(["env", "map", "method", "interval"], dropna=False, sort=False)
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
            lo, hi, note = bootstrap_ci2(x, base, _mean_diff, rng_for(seed, "diff", *key))
            row["diff_ci_low"], row["diff_ci_high"] = lo, hi
            row["welch_p"] = welch_p(x, base)
            row["mannwhitney_p"] = mannwhitney_p(x, base)
            row["hedges_g"] = hedges_g(x, base)
            row["prob_improvement"] = probability_of_improvement(x, base)
            lo, hi, note2 = bootstrap_ci2(x, base, _pi_vectorised, rng_for(seed, "pi", *key))
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


def aggregate_across_maps(final: pd.DataFrame, baseline: str, seed: int, score: str = SCORE) -> pd.DataFrame:
    """The `aggregate.csv` table: per (tasks, method, interval), pooled over (env, map) strata.

    `tasks` = "all" pools every task; when the runs hold both score kinds (win rate and
    normalised return), each kind is also pooled alone under `tasks` = the kind, so that a
    family's aggregate can be read without the other's (`score_kind` says what a row pools:
    a kind, or "mixed")."""
    from pps.analysis.scores import MIXED, ordered_kinds, task_kinds
    from pps.analysis.style import method_rank

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
    ]
    out = pd.DataFrame([r for part in parts for r in part]).reindex(columns=columns)
    out["interval"] = out["interval"].astype("Int64")
    out["compared_maps"] = out["compared_maps"].astype("Int64")
    out["_rank"] = out["method"].map(method_rank)
    out["_tasks"] = out["tasks"].map({"all": 0, **{k: i + 1 for i, k in enumerate(families)}})
    out = out.sort_values(["_tasks", "_rank", "method", "interval"], na_position="first", kind="stable")
    return out.drop(columns=["_rank", "_tasks"]).reset_index(drop=True)


def _pooled_rows(final: pd.DataFrame, baseline: str, seed: int, score: str, tasks: str, kind: str) -> list[dict]:
    """The rows of `aggregate.csv` for one pool of tasks (see `aggregate_across_maps`). The
    bootstrap of the "all" pool draws from the generator it always drew from, so adding the
    family pools changes none of its numbers."""
    from pps.analysis.scores import WIN_RATE

    strata_all = sorted({(e, m) for e, m in zip(final["env"], final["map"])})
    by_cell: dict[tuple, dict[tuple, np.ndarray]] = {}
    for (env, map_, method, interval), g in final.groupby(["env", "map", "method", "interval"], dropna=False, sort=False):
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
        rng = rng_for(seed, "aggregate", method, interval) if tasks == "all" else rng_for(seed, "aggregate", tasks, method, interval)
        row = {
            "tasks": tasks, "score_kind": kind,
            "method": method, "interval": interval, "n_maps": len(keys), "n_total_maps": len(strata_all),
            "n_runs": pooled.size, "maps": " ".join(f"{e}/{m}" for e, m in keys),
            "iqm": float(iqm(pooled)), "mean": float(pooled.mean()),
        }
        notes = []
        if pooled.size >= 2 and np.ptp(pooled) > 0:
            row["iqm_ci_low"], row["iqm_ci_high"] = percentile_ci(iqm(stratified_resample(xs, rng), axis=1))
        else:
            row["iqm_ci_low"] = row["iqm_ci_high"] = row["iqm"] if pooled.size >= 2 else np.nan
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
                    _pi_vectorised(a[rng.integers(0, a.size, (N_RESAMPLES, a.size))],
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
