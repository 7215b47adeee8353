"""Convergence: steps to a score threshold, normalised AUC, speed-up versus the baseline.

All on the common step grid of `curves.csv` (see `pps.analysis.data.collect`), on the rows with
metric `score` (`pps.analysis.data.scores`: the test win rate where the task has a win condition,
the normalised test return elsewhere), so one threshold means "this far from a random policy
towards winning every episode / matching the reference policy" on every task:

- **Smoothing**: a *trailing* moving average of the score over `smooth_window` grid
  points (`min_periods=1`, so the first points average what exists). Trailing, not centred,
  so "reached at step s" uses only evaluations up to s; `smooth_window=1` is no smoothing.
- **Steps to threshold**: the first grid step at which the smoothed score is >= the
  threshold; empty (and `reached` False) if the run never gets there.
- **Normalised AUC**: the trapezoid area under the *unsmoothed* score curve divided by the
  run's step span, i.e. the run's average score over training (a curve rising linearly
  from 0 to 1 has 0.5; a run that wins from the start has 1; a normalised return that starts
  below random can make it negative).
- **Median steps to threshold** is a survival-analysis quantity: a run that never reaches
  the threshold is *right-censored* at its last step (its true time is later, by an unknown
  amount), and runs may have different lengths. The median is the Kaplan-Meier median
  (`scipy.stats.ecdf` on `scipy.stats.CensoredData`): the first step where the estimated
  share of runs still below the threshold falls to 1/2 or less; where that share is exactly
  1/2 until the next crossing, the midpoint of the two steps (so that with no censoring it
  is `np.median`). When the share never falls to 1/2 (most runs never
  got there, or the crossings stop at exactly 1/2) the median is only known to be later:
  `median_censored` is True and `median_steps` holds the lower bound (the largest step
  observed, or the step where the share hit 1/2). Counting a censored run as a crossing at its
  last step, or checking only whether a censored run sits at the middle of the sorted steps,
  both get runs of unequal length wrong; the tests cover both cases.
- **Speed-up** of a method over the baseline on one map = KM median steps of the baseline /
  KM median steps of the method (> 1: the method is faster). A censored median makes the
  speed-up a bound (`bound` = "lower" if the baseline's median is censored, "upper" if the
  method's is, "none" if both are: then no speed-up is reported). The CI is a two-sample
  percentile bootstrap of the ratio of KM medians ((step, reached) pairs resampled within
  each method). A resample whose KM median is undefined has an infinite median, so its ratio
  is 0 or infinite and is *kept* (never dropped); a resample where both medians are undefined
  has no ratio, and the CI takes it at its least favourable value (0 for the lower bound,
  infinity for the upper): the interval is then conservative, never narrower than the data allow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps
from scipy.integrate import trapezoid

from pps.analysis.data.cells import method_rank
from pps.analysis.data.scores import SCORE_METRIC, score_kind
from pps.analysis.stats.bootstrap import N_RESAMPLES, percentile_ci, rng_for
from pps.analysis.stats.estimators import iqm

RUN_COLUMNS = ["env", "map", "method", "interval", "seed"]


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average with min_periods=1 (window 1 returns the values unchanged)."""
    values = np.asarray(values, float)
    if window <= 1 or values.size == 0:
        return values.copy()
    c = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, values.size + 1)
    start = np.maximum(0, idx - window)
    return (c[idx] - c[start]) / (idx - start)


def first_crossing(steps: np.ndarray, values: np.ndarray, threshold: float) -> float:
    """The first step whose value is >= threshold; NaN if none."""
    hit = np.flatnonzero(np.asarray(values) >= threshold)
    return float(steps[hit[0]]) if hit.size else np.nan


def normalised_auc(steps: np.ndarray, values: np.ndarray) -> float:
    steps, values = np.asarray(steps, float), np.asarray(values, float)
    if steps.size < 2 or steps[-1] <= steps[0]:
        return float(values[0]) if values.size else np.nan
    return float(trapezoid(values, steps) / (steps[-1] - steps[0]))


def run_convergence(curves: pd.DataFrame, thresholds, smooth_window: int) -> pd.DataFrame:
    """The `convergence.csv` table: one row per run and threshold, on the runs' score."""
    score = curves[curves["metric"] == SCORE_METRIC]
    rows = []
    for key, g in score.groupby(RUN_COLUMNS, dropna=False, sort=False):
        g = g.sort_values("step")
        steps, values = g["step"].to_numpy(float), g["value"].to_numpy(float)
        sm = smooth(values, smooth_window)
        auc = normalised_auc(steps, values)
        for thr in thresholds:
            s = first_crossing(steps, sm, thr)
            rows.append((*key, score_kind(key[0]), float(thr), int(smooth_window), s, bool(np.isfinite(s)), auc,
                         float(steps[0]), float(steps[-1]), float(sm[-1])))
    out = pd.DataFrame(rows, columns=[*RUN_COLUMNS, "score_kind", "threshold", "smooth_window", "steps_to_threshold",
                                      "reached", "norm_auc", "first_step", "last_step", "final_smoothed"])
    out["interval"] = out["interval"].astype("Int64")
    for c in ("steps_to_threshold", "first_step", "last_step"):
        out[c] = out[c].round().astype("Int64")
    return out


def _censored(df: pd.DataFrame) -> np.ndarray:
    """Steps to threshold with never-reached runs censored at their last step."""
    s = df["steps_to_threshold"].astype(float).to_numpy()
    return np.where(np.isfinite(s), s, df["last_step"].astype(float).to_numpy())


_HALF = 0.5 + 1e-12  # survival products are floating point: 1/2 must compare as 1/2


def _km_median_from_curve(times: np.ndarray, surv: np.ndarray, event_times: np.ndarray) -> tuple[float, bool]:
    """The median of a Kaplan-Meier survival curve given at `times` (ascending) -> (value, is_bound)."""
    below = np.flatnonzero(surv <= _HALF)
    if below.size == 0:
        return float(times[-1]) if times.size else np.nan, True
    i = below[0]
    if abs(surv[i] - 0.5) < 1e-12:
        later = event_times[event_times > times[i]]
        if later.size == 0:  # flat at exactly 1/2 until follow-up ends: only a lower bound
            return float(times[i]), True
        return float((times[i] + later[0]) / 2), False
    return float(times[i]), False


def km_median(steps: np.ndarray, reached: np.ndarray) -> tuple[float, bool]:
    """Kaplan-Meier median of steps to threshold with `~reached` runs right-censored at their
    step (their last step) -> (median, is_lower_bound). See the module docstring.

    Uses `scipy.stats.ecdf` on `CensoredData`; `km_median_batch` is the vectorised twin used by
    the bootstrap, and the tests check that the two agree.
    """
    steps, reached = np.asarray(steps, float), np.asarray(reached, bool)
    if steps.size == 0:
        return np.nan, False
    if not reached.any():
        return float(steps.max()), True
    sf = sps.ecdf(sps.CensoredData(uncensored=steps[reached], right=steps[~reached])).sf
    return _km_median_from_curve(np.asarray(sf.quantiles, float), np.asarray(sf.probabilities, float),
                                 np.unique(steps[reached]))


def km_median_batch(steps: np.ndarray, reached: np.ndarray) -> np.ndarray:
    """Kaplan-Meier medians of many samples at once (rows of `steps` [R, n], `reached` [R, n]).

    Returns [R] medians, +inf where the median is only a lower bound (the bootstrap needs the
    median itself, and "later than anything observed" is the honest value for a ratio).
    """
    steps, reached = np.asarray(steps, float), np.asarray(reached, bool)
    n = steps.shape[1]
    order = np.lexsort((~reached, steps), axis=1)  # by step; at a tie, crossings before censorings
    t = np.take_along_axis(steps, order, axis=1)
    e = np.take_along_axis(reached, order, axis=1)
    at_risk = n - np.arange(n)
    surv = np.cumprod(np.where(e, 1.0 - 1.0 / at_risk, 1.0), axis=1)
    # the curve's value at a step is its value after the last run with that step
    group_end = np.ones_like(e)
    group_end[:, :-1] = t[:, 1:] != t[:, :-1]
    hit = group_end & (surv <= _HALF)
    has = hit.any(axis=1)
    i = np.argmax(hit, axis=1)
    rows = np.arange(t.shape[0])
    ti, si = t[rows, i], surv[rows, i]
    # exactly 1/2: the midpoint to the next crossing after it, a lower bound if there is none
    later = e & (t > ti[:, None])
    has_later = later.any(axis=1)
    t_next = t[rows, np.argmax(later, axis=1)]
    half = np.abs(si - 0.5) < 1e-12
    out = np.where(half, np.where(has_later, (ti + t_next) / 2, np.inf), ti)
    return np.where(has, out, np.inf)


def ratio_ci(numerator: np.ndarray, denominator: np.ndarray) -> tuple[float, float]:
    """Percentile CI of numerator / denominator over bootstrap resamples of infinite-or-finite
    positive medians: x/inf = 0 and inf/x = inf are kept; inf/inf has no value and is counted
    at the least favourable end of each bound (0 for the lower, inf for the upper)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = numerator / denominator
    lo, _ = percentile_ci(np.where(np.isnan(r), 0.0, r))
    _, hi = percentile_ci(np.where(np.isnan(r), np.inf, r))
    return lo, hi


def speedup_table(conv: pd.DataFrame, baseline: str, seed: int) -> pd.DataFrame:
    """The `speedup.csv` table: per (env, map, method, interval, threshold)."""
    rows = []
    cells = {k: g for k, g in conv.groupby(["env", "map", "method", "interval", "threshold"], dropna=False, sort=False)}
    for key, g in cells.items():
        env, map_, method, interval, thr = key
        steps, reached = _censored(g), g["reached"].to_numpy(bool)
        med, med_censored = km_median(steps, reached)
        row = {"env": env, "map": map_, "method": method, "interval": interval,
               "score_kind": g["score_kind"].iloc[0] if "score_kind" in g else score_kind(env), "threshold": thr,
               "n": len(g), "n_reached": int(reached.sum()), "n_not_reached": int((~reached).sum()),
               "median_steps": med, "median_censored": med_censored,
               "norm_auc_iqm": float(iqm(g["norm_auc"].to_numpy(float)))}
        base = next((b for k, b in cells.items() if k[:3] == (env, map_, baseline) and k[4] == thr), None)
        row["baseline"] = baseline
        notes = []
        if method != baseline and base is not None:
            bs, br = _censored(base), base["reached"].to_numpy(bool)
            bmed, b_cens = km_median(bs, br)
            row.update(baseline_n=len(base), baseline_n_reached=int(br.sum()), baseline_median_steps=bmed)
            if b_cens and med_censored:
                row["bound"] = "none"
                notes.append(f"neither {method} nor {baseline} reached {thr:g} in most runs: no speed-up")
            else:
                row["bound"] = "lower" if b_cens else ("upper" if med_censored else "")
                row["speedup"] = bmed / med if med > 0 else np.nan
                rng = rng_for(seed, "speedup", *key)
                if len(g) >= 2 and len(base) >= 2:
                    xi = rng.integers(0, steps.size, (N_RESAMPLES, steps.size))
                    yi = rng.integers(0, bs.size, (N_RESAMPLES, bs.size))
                    mx = km_median_batch(steps[xi], reached[xi])
                    my = km_median_batch(bs[yi], br[yi])
                    row["speedup_ci_low"], row["speedup_ci_high"] = ratio_ci(my, mx)
                else:
                    notes.append("n<2: no CI")
                if row["bound"] == "lower":
                    notes.append(f"{baseline} did not reach {thr:g} in most runs: speed-up is a lower bound")
                elif row["bound"] == "upper":
                    notes.append(f"{method} did not reach {thr:g} in most runs: speed-up is an upper bound")
        elif method != baseline:
            notes.append(f"no {baseline} runs on this map: no speed-up")
        row["note"] = "; ".join(notes)
        rows.append(row)
    columns = ["env", "map", "method", "interval", "score_kind", "threshold", "n", "n_reached", "n_not_reached",
               "median_steps", "median_censored", "norm_auc_iqm", "baseline", "baseline_n", "baseline_n_reached",
               "baseline_median_steps", "speedup", "speedup_ci_low", "speedup_ci_high", "bound", "note"]
    out = pd.DataFrame(rows).reindex(columns=columns)
    out["interval"] = out["interval"].astype("Int64")
    for c in ("baseline_n", "baseline_n_reached"):
        out[c] = out[c].astype("Int64")
    out["_rank"] = out["method"].map(method_rank)
    out = out.sort_values(["env", "map", "threshold", "_rank", "method", "interval"], na_position="first",
                          kind="stable")
    return out.drop(columns="_rank").reset_index(drop=True)
