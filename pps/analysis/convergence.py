"""Convergence: steps to a win-rate threshold, normalised AUC, speed-up versus the baseline.

All on the common step grid of `curves.csv` (see `pps.analysis.aggregate`):

- **Smoothing**: a *trailing* moving average of the test win rate over `smooth_window` grid
  points (`min_periods=1`, so the first points average what exists). Trailing, not centred,
  so "reached at step s" uses only evaluations up to s; `smooth_window=1` is no smoothing.
- **Steps to threshold**: the first grid step at which the smoothed win rate is >= the
  threshold; empty (and `reached` False) if the run never gets there.
- **Normalised AUC**: the trapezoid area under the *unsmoothed* win-rate curve divided by the
  run's step span, i.e. the run's average win rate over training (a curve rising linearly
  from 0 to 1 has 0.5; a run that wins from the start has 1).
- **Speed-up** of a method over the baseline on one map = median steps of the baseline /
  median steps of the method (> 1: the method is faster). A run that never reaches the
  threshold is *censored* at its last step: its true time is later, so a censored median
  makes the speed-up a bound (`bound` = "lower" if the baseline's median is censored,
  "upper" if the method's is, "none" if both are: then no speed-up is reported). The CI is a
  two-sample percentile bootstrap of the ratio (seeds resampled within each method).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pps.analysis.stats import N_RESAMPLES, iqm, percentile_ci, rng_for

WIN = "test_win_rate"
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
    return float(np.trapezoid(values, steps) / (steps[-1] - steps[0]))


def run_convergence(curves: pd.DataFrame, thresholds, smooth_window: int) -> pd.DataFrame:
    """The `convergence.csv` table: one row per run and threshold."""
    win = curves[curves["metric"] == WIN]
    rows = []
    for key, g in win.groupby(RUN_COLUMNS, dropna=False, sort=False):
        g = g.sort_values("step")
        steps, values = g["step"].to_numpy(float), g["value"].to_numpy(float)
        sm = smooth(values, smooth_window)
        auc = normalised_auc(steps, values)
        for thr in thresholds:
            s = first_crossing(steps, sm, thr)
            rows.append((*key, float(thr), int(smooth_window), s, bool(np.isfinite(s)), auc,
                         float(steps[0]), float(steps[-1]), float(sm[-1])))
    out = pd.DataFrame(rows, columns=[*RUN_COLUMNS, "threshold", "smooth_window", "steps_to_threshold",
                                      "reached", "norm_auc", "first_step", "last_step", "final_smoothed"])
    out["interval"] = out["interval"].astype("Int64")
    for c in ("steps_to_threshold", "first_step", "last_step"):
        out[c] = out[c].round().astype("Int64")
    return out


def _censored(df: pd.DataFrame) -> np.ndarray:
    """Steps to threshold with never-reached runs censored at their last step."""
    s = df["steps_to_threshold"].astype(float).to_numpy()
    return np.where(np.isfinite(s), s, df["last_step"].astype(float).to_numpy())


def _median_censored(steps: np.ndarray, reached: np.ndarray) -> tuple[float, bool]:
    """Median of the censored steps and whether a censored run enters it (then the true
    median is later: the value is a lower bound)."""
    order = np.lexsort((~reached, steps))  # ties: reached before censored
    n = steps.size
    middle = order[[(n - 1) // 2, n // 2]]
    return float(np.median(steps)), bool((~reached[middle]).any())


def speedup_table(conv: pd.DataFrame, baseline: str, seed: int) -> pd.DataFrame:
    """The `speedup.csv` table: per (env, map, method, interval, threshold)."""
    from pps.analysis.style import method_rank

    rows = []
    cells = {k: g for k, g in conv.groupby(["env", "map", "method", "interval", "threshold"], dropna=False, sort=False)}
    for key, g in cells.items():
        env, map_, method, interval, thr = key
        steps, reached = _censored(g), g["reached"].to_numpy(bool)
        med, med_censored = _median_censored(steps, reached)
        row = {"env": env, "map": map_, "method": method, "interval": interval, "threshold": thr,
               "n": len(g), "n_reached": int(reached.sum()), "n_not_reached": int((~reached).sum()),
               "median_steps": med, "median_censored": med_censored,
               "norm_auc_iqm": float(iqm(g["norm_auc"].to_numpy(float)))}
        base = next((b for k, b in cells.items() if k[:3] == (env, map_, baseline) and k[4] == thr), None)
        row["baseline"] = baseline
        notes = []
        if method != baseline and base is not None:
            bs, br = _censored(base), base["reached"].to_numpy(bool)
            bmed, b_cens = _median_censored(bs, br)
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
                    mx, my = np.median(steps[xi], axis=1), np.median(bs[yi], axis=1)
                    with np.errstate(divide="ignore", invalid="ignore"):
                        row["speedup_ci_low"], row["speedup_ci_high"] = percentile_ci(my / mx)
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
    columns = ["env", "map", "method", "interval", "threshold", "n", "n_reached", "n_not_reached",
               "median_steps", "median_censored", "norm_auc_iqm", "baseline", "baseline_n", "baseline_n_reached",
               "baseline_median_steps", "speedup", "speedup_ci_low", "speedup_ci_high", "bound", "note"]
    out = pd.DataFrame(rows).reindex(columns=columns)
    out["interval"] = out["interval"].astype("Int64")
    for c in ("baseline_n", "baseline_n_reached"):
        out[c] = out[c].astype("Int64")
    out["_rank"] = out["method"].map(method_rank)
    out = out.sort_values(["env", "map", "threshold", "_rank", "method", "interval"], na_position="first", kind="stable")
    return out.drop(columns="_rank").reset_index(drop=True)
