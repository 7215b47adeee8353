"""Two sets of runs of one grid that differ in one setting (A against B): did learning change?

A switch that should leave learning alone (`matmul_precision: bf16`, another BLAS, another
device, a new commit) is checked by training the same cells twice and asking this module
whether anything the suite measures moved. Runs are matched by cell, (env, map, method,
interval); seeds need not match (B's seed 3 is not A's seed 3 once anything differs).

Per matched cell, two measures per run, both on the task's score (`pps.analysis.data.scores`),
both over the range every run of the cell covers, so a longer or earlier-starting run gains
nothing:

- `final`: the mean of the run's last `final_window` raw evaluations at or before the step
  every run of the cell reaches (as `final.csv`, which takes each run's own last ones);
- `auc`: the normalised area under the score curve (as `convergence.csv`), on the grid both
  sides share (each map's runs of A and B together on one step grid, `pps.analysis.data.collect`),
  from the latest first step to the earliest last step of the cell's runs.

Per measure: each side's mean, B - A with its percentile bootstrap CI, two two-sided tests,
the studentized permutation test of the mean difference (`pps.analysis.stats.permtests`:
exact where the runs are exchangeable, which is this comparison's null) and the exact
Mann-Whitney test, `smallest_p`, the smallest p-value those run counts allow (3 runs a side:
0.1, so nothing can be found there), and `detectable`, the difference a Welch test at alpha /
m (m: the table's p-values) finds four times in five at the observed spreads. Welch's t is
not one of the tests: on learn-or-fail samples of 3-4 seeds its tail p-values are far too
small, and with Benjamini-Hochberg over many cells it called identical laws different up to
28% of the time.

**Verdict.** The p-values of every test in the table (2 measures x 2 tests x cells) are
adjusted together with Benjamini-Hochberg; a cell `differs` when any of its adjusted p-values
is below alpha; `identical` when both sides hold the same values (bit-identical reruns);
`too few runs to test` when a side has fewer than 2 runs or `smallest_p` is not below alpha;
otherwise `no difference detected`, which is evidence against differences of `detectable` or
more only. The rule's false-positive rate on nulls (A and B from one law: normal, skewed,
bounded near 1, learn-or-fail, tied win rates) is tested in tests/analysis/studies/test_compare.py.

**What differs** between the sides is read from run.json: every key, `config`'s by their own
names and nested ones dotted (`versions.torch`), whose values differ between A's and B's runs
of one cell (a run from before a key existed counts with the value it implies; the per-run
keys, such as seeds, timings and outcomes, are ignored); list entries (`deviations`) count one
by one. So a reader sees that A and B differ in `matmul_precision` and nothing else, or in
more than was meant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.stats as sps
from scipy.optimize import brentq

from pps.analysis.convergence import normalised_auc
from pps.analysis.data.cells import CELL_COLUMNS
from pps.analysis.data.collect import CURVES_METRICS, on_map_grids, score_rules, sort_runs
from pps.analysis.data.runs import Run
from pps.analysis.data.scores import SCORE_METRIC, ScoreRule
from pps.analysis.stats.bootstrap import bootstrap_ci2, mean_diff, rng_for
from pps.analysis.stats.estimators import fdr_bh, mannwhitney_p
from pps.analysis.stats.figure_data import mean_band
from pps.analysis.stats.permtests import MeanDifference, relabellings, studentized_test
from pps.config import KEYS_ADDED_WITH_OLD_BEHAVIOUR

ALPHA = 0.05
POWER = 0.8  # the power at which `detectable` is quoted
MEASURES = ("final", "auc")
DIFFERS, SAME, IDENTICAL, UNTESTED = "differs", "no difference detected", "identical", "too few runs to test"

# run.json keys that differ between any two runs and say nothing about the setting compared
# (a run's identity within the grid, its seeds, its timings and outcome)
PER_RUN_KEYS = frozenset({
    "env", "map", "method", "interval",
    "seed", "seeds", "started_at", "ended_at", "wall_s", "time_s", "steps_per_s", "learner_ms_per_update",
    "peak_rss_mb", "t_env", "episodes", "updates", "aggregations", "swap_eval_env_steps", "status", "group",
    "group_cost", "resumed", "label", "absolute_eval", "rs_weight_peaks", "init_seed", "env_seed", "replay_seed",
    "explore_seed", "eval_seed", "swap_seed", "seeds_used", "cpu", "threads_used",
})

COMPARE_COLUMNS: tuple[str, ...] = (
    *CELL_COLUMNS, "measure", "n_a", "n_b", "mean_a", "mean_b", "diff", "diff_ci_low", "diff_ci_high", "permutation_p",
    "mannwhitney_p", "permutation_p_adj", "mannwhitney_p_adj", "smallest_p", "detectable", "steps", "verdict",
)


def _cell(run: Run) -> tuple:
    return (run.env, run.map, run.method, run.interval)


class RunCurve(NamedTuple):
    """One run's score curve on its map's step grid shared by both sides (`run_curves`)."""

    side: str  # "a" or "b"
    run: Run
    steps: np.ndarray
    score: np.ndarray
    rule: ScoreRule  # its map's score rule, which `run_measures` applies to the raw evaluations


def run_curves(runs_a: Sequence[Run], runs_b: Sequence[Run]) -> list[RunCurve]:
    """Every run's score on its map's one step grid for A's and B's runs together,
    interpolated, never extrapolated (only the grid points the run spans): what both the
    measures (`run_measures`) and the figure's curves (`score_curves`) are computed from."""
    tagged = [("a", r) for r in sort_runs(list(runs_a))] + [("b", r) for r in sort_runs(list(runs_b))]
    runs = [r for _, r in tagged]
    rules = score_rules(runs)
    score_col = CURVES_METRICS.index(SCORE_METRIC)
    out = []
    for (side, r), (grid, block) in zip(tagged, on_map_grids(runs, rules), strict=True):
        score = block[:, score_col]
        ok = np.isfinite(score)
        out.append(RunCurve(side, r, grid[ok].astype(float), score[ok], rules[(r.env, r.map)]))
    return out


def score_curves(curves: Sequence[RunCurve]) -> pd.DataFrame:
    """Every run's score curve (`run_curves`), long: `side` (a/b), its cell, `seed`, `step`, `score`."""
    columns = ["side", *CELL_COLUMNS, "seed", "step", "score"]
    parts = [pd.DataFrame({"side": c.side, "env": c.run.env, "map": c.run.map, "method": c.run.method,
                           "interval": c.run.interval, "seed": c.run.seed, "step": c.steps, "score": c.score})
             for c in curves]
    out = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    out["interval"] = out["interval"].astype("Int64")
    return out


def curve_bands(curves: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Per cell and side, the mean score over seeds at each step every seed of that side
    reaches, with its pointwise percentile bootstrap band (`mean_band`): `side`, the cell,
    `step`, `mean`, `low`, `high`, `seeds`. What `pps compare`'s figure draws."""
    parts = []
    for key, cell in curves.groupby(["side", *CELL_COLUMNS], dropna=False, sort=True):
        wide = cell.pivot_table(index="seed", columns="step", values="score").dropna(axis=1)
        if wide.empty:
            continue
        mid, lo, hi = mean_band(wide.to_numpy(float), rng_for(seed, "compare", *key[1:], key[0]))
        parts.append(pd.DataFrame({"side": key[0], **dict(zip(CELL_COLUMNS, key[1:])),
                                   "step": wide.columns.to_numpy(float), "mean": mid, "low": lo, "high": hi,
                                   "seeds": len(wide)}))
    columns = ["side", *CELL_COLUMNS, "step", "mean", "low", "high", "seeds"]
    out = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    out["interval"] = out["interval"].astype("Int64")
    return out


def run_measures(curves: Sequence[RunCurve], final_window: int) -> pd.DataFrame:
    """One row per run of `run_curves`: `side`, its cell, `seed`, `final` and `auc` (see the
    module docstring), and `steps`, the last step of its cell's common range."""
    first: dict[tuple, float] = {}
    last: dict[tuple, float] = {}
    raw_last: dict[tuple, float] = {}
    for _, r, steps, _, _ in curves:
        cell = _cell(r)
        first[cell] = max(first.get(cell, -math.inf), float(steps[0]) if steps.size else math.inf)
        last[cell] = min(last.get(cell, math.inf), float(steps[-1]) if steps.size else -math.inf)
        raw_last[cell] = min(raw_last.get(cell, math.inf), float(r.metrics["step"].iloc[-1]))
    rows = []
    for side, r, steps, score, rule in curves:
        cell = _cell(r)
        inside = (steps >= first[cell]) & (steps <= last[cell])
        auc = normalised_auc(steps[inside], score[inside]) if inside.any() else np.nan
        # the final score at the cell's common end: a longer run is not judged further on
        upto = r.metrics[r.metrics["step"] <= raw_last[cell]]
        tail = upto.iloc[-final_window:]
        final = rule(tail["test_win_rate"], tail["test_return_mean"])
        rows.append({"side": side, "env": r.env, "map": r.map, "method": r.method, "interval": r.interval,
                     "seed": r.seed, "final": float(np.nanmean(final)) if np.isfinite(final).any() else np.nan,
                     "auc": auc, "steps": last[cell] if np.isfinite(last[cell]) else np.nan})
    out = pd.DataFrame(rows, columns=["side", *CELL_COLUMNS, "seed", "final", "auc", "steps"])
    out["interval"] = out["interval"].astype("Int64")
    return out


def detectable(x: np.ndarray, y: np.ndarray, alpha: float, power: float = POWER) -> float:
    """The smallest |mean(y) - mean(x)| that a two-sided Welch t test at level `alpha` finds
    with probability `power`, at the observed spreads (exact noncentral t at Welch's degrees of
    freedom). The caller passes alpha / m for a table of m p-values, a level the verdict
    rule's Benjamini-Hochberg step always grants a single true difference. NaN when the spread
    is zero or a side has fewer than 2 runs: no power statement can be made."""
    if x.size < 2 or y.size < 2:
        return np.nan
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(vx + vy)
    if se == 0:
        return np.nan
    df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    crit = sps.t.ppf(1 - alpha / 2, df)

    def shortfall(delta: float) -> float:
        ncp = delta / se
        found = float(sps.nct.sf(crit, df, ncp) + sps.nct.cdf(-crit, df, ncp))
        return (found if math.isfinite(found) else 1.0) - power  # scipy's NaN: far in the tail, power 1

    high = se
    while shortfall(high) < 0:
        high *= 2
    return float(brentq(shortfall, 0.0, high, xtol=1e-6 * se))


def smallest_p(n_x: int, n_y: int) -> float:
    """The smallest two-sided p-value an exact test of n_x against n_y runs can give: one
    relabelling in each tail out of C(n_x + n_y, n_x). At 3 runs a side it is 0.1, so no
    difference can be found there at alpha 0.05."""
    if n_x < 1 or n_y < 1:
        return np.nan
    return min(1.0, 2.0 / math.comb(n_x + n_y, n_x))


def two_sample_p(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """(studentized permutation p, exact Mann-Whitney p), both two-sided, of y against x; NaN
    with fewer than 2 runs a side. The permutation test of the mean difference is exact where
    the runs are exchangeable, which is this comparison's null (one law for A and B), and
    keeps its level on the bimodal learn-or-fail samples where Welch's t does not
    (`pps.analysis.stats.permtests`)."""
    if x.size < 2 or y.size < 2:
        return np.nan, np.nan
    if np.ptp(np.concatenate([x, y])) == 0:
        return 1.0, 1.0
    result = studentized_test([y], [x], MeanDifference(), 0.0, relabellings([(y.size, x.size)], rng))
    return min(1.0, 2 * min(result.p_greater, result.p_less)), mannwhitney_p(x, y)


def compare_cells(measures: pd.DataFrame, *, seed: int = 0, alpha: float = ALPHA) -> pd.DataFrame:
    """`run_measures`' rows -> `COMPARE_COLUMNS`, one row per matched cell and measure, with the
    adjusted p-values and the verdict of the module docstring. Cells with runs on one side only
    are left out (`unmatched_cells` names them)."""
    rows, samples = [], []
    for key, cell in measures.groupby(CELL_COLUMNS, dropna=False, sort=True):
        a, b = cell[cell["side"] == "a"], cell[cell["side"] == "b"]
        if a.empty or b.empty:
            continue
        for measure in MEASURES:
            x, y = a[measure].to_numpy(float), b[measure].to_numpy(float)
            x, y = x[np.isfinite(x)], y[np.isfinite(y)]
            lo, hi, _ = bootstrap_ci2(y, x, mean_diff, rng_for(seed, "compare", *key, measure))
            perm_p, mw_p = two_sample_p(x, y, rng_for(seed, "compare-permutation", *key, measure))
            samples.append((x, y))
            same_values = x.size == y.size and bool(np.array_equal(np.sort(x), np.sort(y)))
            rows.append({**dict(zip(CELL_COLUMNS, key)), "measure": measure, "n_a": x.size, "n_b": y.size,
                         "mean_a": float(x.mean()) if x.size else np.nan,
                         "mean_b": float(y.mean()) if y.size else np.nan,
                         "diff": float(y.mean() - x.mean()) if x.size and y.size else np.nan,
                         "diff_ci_low": lo, "diff_ci_high": hi, "permutation_p": perm_p, "mannwhitney_p": mw_p,
                         "smallest_p": smallest_p(x.size, y.size), "steps": float(cell["steps"].iloc[0]),
                         "_same_values": same_values})
    columns = [c for c in COMPARE_COLUMNS if c not in ("permutation_p_adj", "mannwhitney_p_adj", "detectable",
                                                       "verdict")] + ["_same_values"]
    table = pd.DataFrame(rows, columns=columns)
    if table.empty:
        return table.reindex(columns=COMPARE_COLUMNS)
    p = table[["permutation_p", "mannwhitney_p"]].to_numpy(float)
    cell_ids = table.groupby(CELL_COLUMNS, dropna=False, sort=False).ngroup().to_numpy()
    adjusted, found = detected(p, cell_ids, alpha)
    table["permutation_p_adj"], table["mannwhitney_p_adj"] = adjusted[:, 0], adjusted[:, 1]
    m = max(1, int(np.isfinite(p).sum()))
    table["detectable"] = [detectable(x, y, alpha / m) for x, y in samples]
    table["verdict"] = verdicts(table, found, cell_ids, alpha)
    table["interval"] = table["interval"].astype("Int64")
    return table[list(COMPARE_COLUMNS)]


def verdicts(table: pd.DataFrame, found: np.ndarray, cell_ids: np.ndarray, alpha: float) -> np.ndarray:
    """Per row, its cell's verdict: `differs` (the rule found a difference), `identical` (both
    sides hold the same values on every measure, as bit-identical reruns do), `too few runs to test` (a side has
    fewer than 2 runs, or even the most extreme outcome could not reach `alpha`), else
    `no difference detected`."""
    def per_cell(values: pd.Series, how: str) -> np.ndarray:
        return values.groupby(cell_ids).transform(how).to_numpy(bool)

    same = per_cell(table["_same_values"].astype(bool), "all")
    testable = per_cell(pd.Series(table["smallest_p"].fillna(1.0) < alpha) & table["permutation_p"].notna(), "all")
    return np.where(found, DIFFERS, np.where(same & testable, IDENTICAL,
                                             np.where(testable, SAME, UNTESTED)))


def detected(p: np.ndarray, cell_ids: np.ndarray, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """The verdict rule. `p` [rows, tests]: raw p-values (NaN where a test could not run);
    `cell_ids` [rows]: the cell each row belongs to. Returns the Benjamini-Hochberg adjusted
    p-values over every finite entry of `p`, and per row whether its cell has any adjusted
    p-value below `alpha` (the cell differs)."""
    adjusted = fdr_bh(p.ravel()).reshape(p.shape)
    row_hit = (adjusted < alpha).any(axis=1)
    return adjusted, np.isin(cell_ids, cell_ids[row_hit])


def unmatched_cells(measures: pd.DataFrame) -> list[str]:
    """'env/map/method/interval (a only)' for every cell trained on one side only."""
    out = []
    for key, cell in measures.groupby(CELL_COLUMNS, dropna=False, sort=True):
        sides = set(cell["side"])
        if len(sides) == 1:
            interval = "-" if pd.isna(key[3]) else str(key[3])
            out.append(f"{key[0]}/{key[1]}/{key[2]}/{interval} ({next(iter(sides))} only)")
    return out


def _flatten(info: dict) -> dict[str, object]:
    """run.json as one level: `config`'s keys by their own names (the run keys, with the value
    a run from before a key was added implies), nested tables with dotted names
    (`versions.torch`)."""
    flat: dict[str, object] = dict(KEYS_ADDED_WITH_OLD_BEHAVIOUR)

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            flat[prefix] = value

    for key, value in info.items():
        if key == "config" and isinstance(value, dict):
            for k, v in value.items():
                walk(str(k), v)
        elif key.split(".")[0] not in PER_RUN_KEYS:
            walk(key, value)
    return flat


def differing_keys(runs_a: Sequence[Run], runs_b: Sequence[Run]) -> dict[str, tuple[list[str], list[str]]]:
    """run.json keys (top level, `config`'s, nested ones dotted) whose values differ between
    the sides within some cell both trained: key -> (the values only A's runs have, those only
    B's have), as sorted text; a list (`deviations`) counts element by element, so only the
    entries one side lacks are named. Keys that differ from run to run anyway (`PER_RUN_KEYS`)
    are left out."""
    def values(runs: Sequence[Run]) -> dict[tuple, dict[str, set[str]]]:
        seen: dict[tuple, dict[str, set[str]]] = {}
        for r in runs:
            cell = seen.setdefault(_cell(r), {})
            for k, v in _flatten(r.info).items():
                items = v if isinstance(v, list) else [v]
                cell.setdefault(k, set()).update(x if isinstance(x, str) else repr(x) for x in items)
        return seen

    va, vb = values(runs_a), values(runs_b)
    only_a: dict[str, set[str]] = {}
    only_b: dict[str, set[str]] = {}
    for cell in sorted(set(va) & set(vb), key=str):
        a, b = va[cell], vb[cell]
        for key in set(a) | set(b):
            if key.split(".")[0] in PER_RUN_KEYS:
                continue
            sa, sb = a.get(key, {"(absent)"}), b.get(key, {"(absent)"})
            if sa != sb:
                only_a.setdefault(key, set()).update(sa - sb)
                only_b.setdefault(key, set()).update(sb - sa)
    return {key: (sorted(only_a[key]), sorted(only_b[key])) for key in sorted(only_a)}
