"""The three verdict rules, on per-map samples of final scores (no files, no formatting).

Each `judge_*` takes the runs of each method on each map and returns the numbers of its row
of `claims.md` with a verdict from `pps.analysis.verdicts`. The same functions write
`claims.md` (`pps.analysis.claims_report`) and are calibrated on simulated grids
(`pps.analysis.calibration`), so the measured error rates are those of the published rules.

Claims 1 and 3 are about *means* over seeds: the paper's "average improvement" is a change in
average win rate, and a mean keeps a reviewer's null (same average, different spread or a
learn-or-fail mix) a null, where the IQM or a rank statistic would call a different shape a
gain. They use the studentized stratified permutation tests of `pps.analysis.permtests`.
Claim 2 counts the seeds that learn a map and uses exact binomial tests, which hold their
level at any seed count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats as sps

from pps.analysis import permtests as P
from pps.analysis.stats import SCORE
from pps.analysis.style import has_interval, method_label, method_order
from pps.analysis.verdicts import (CEILING, GAIN_NOT_MARGIN, INCONCLUSIVE, NOT_SUPPORTED, RULES, SUPPORTED,
                                   SUPPORTED_ABOVE, TOO_FEW, ClaimRules)

Key = tuple[str, str]  # (env, map)


# --------------------------------------------------------------------------- selecting runs
def high_dim_maps(min_units: int = RULES.high_dim_min_units) -> tuple[str, ...]:
    """Maps with at least `min_units` units in total in the suite's SMAX/SMAC map tables.

    The paper names no high-dimensional map; 16 units is 8m's count, whose SMAX observation
    has 205 values against 3m's 75. MPE tasks are never counted: the rule counts StarCraft
    units, and they have no enemies and at most 5 agents."""
    from pps.envs.registry import MAPS

    tables = [MAPS[env] for env in ("smax", "smac") if env in MAPS]
    return tuple(sorted({s.map for t in tables for s in t.values() if s.n_agents + s.n_enemies >= min_units}))


HIGH_DIM_MAPS = high_dim_maps()


def pick_interval(available, preferred: int) -> int | None:
    """`preferred` if available, else the nearest on a log scale (ties: the smaller)."""
    avail = sorted(int(i) for i in available if has_interval(i))
    if not avail:
        return None
    if preferred in avail:
        return preferred
    return min(avail, key=lambda k: (abs(math.log(k) - math.log(preferred)), k))


def chosen_cells(final: pd.DataFrame, claims_interval: int) -> dict[str, int | None]:
    """method -> the interval it is judged at (None for methods without aggregation)."""
    out = {}
    for method in method_order(set(final["method"])):
        ivs = final.loc[final["method"] == method, "interval"].dropna().unique()
        out[method] = pick_interval(ivs, claims_interval) if len(ivs) else None
    return out


def select(df: pd.DataFrame, method: str, interval) -> pd.DataFrame:
    m = df["method"] == method
    return df[m & (df["interval"].isna() if interval is None else df["interval"] == interval)]


def per_map(final: pd.DataFrame, method: str, interval) -> dict[Key, np.ndarray]:
    """(env, map) -> the method's finite final scores at `interval`."""
    out = {}
    for key, g in select(final, method, interval).groupby(["env", "map"], sort=True):
        v = g[SCORE].to_numpy(float)
        v = v[np.isfinite(v)]
        if v.size:
            out[key] = v
    return out


def holm(p: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control for any dependence)."""
    p = np.asarray(p, float)
    order = np.argsort(p, kind="stable")
    adj = np.empty(p.size)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (p.size - rank) * p[i]))
        adj[i] = running
    return adj


def _enough(samples: Sequence[np.ndarray], rules: ClaimRules) -> bool:
    """Every method has at least `min_seeds` runs on this map."""
    return all(s.size >= rules.min_seeds for s in samples)


def _too_few_runs(per_method: Sequence[Sequence[np.ndarray]], rules: ClaimRules) -> str:
    """Why no verdict can be given on these maps (one list of per-map samples per method), or ''."""
    if not per_method[0]:
        return (f"no map with at least {rules.min_seeds} seeds of every method compared; below that the tests "
                f"are not calibrated")
    runs = min(sum(x.size for x in xs) for xs in per_method)
    if runs < rules.min_runs:
        return (f"{runs} runs of a method over the {len(per_method[0])} map(s) with at least {rules.min_seeds} seeds "
                f"each; a verdict needs {rules.min_runs}, from more seeds or more maps")
    return ""


# --------------------------------------------------------------------------- claim 1
@dataclass
class Improvement:
    """Claim 1 for one PPS method: the average over maps of the per-map relative gain in mean
    score over QMIX, tested against the claimed 10% (and, for the wording, against 0 and 30%)."""

    maps: int
    n_runs: int
    too_few: int = 0  # maps left out: fewer than min_seeds runs of either method
    mean: float = np.nan  # the method's mean score, averaged over the judged maps
    baseline_mean: float = np.nan
    gain: float = np.nan  # average over maps of the relative gain
    gain_lo: float = np.nan
    gain_hi: float = np.nan
    p_margin: float = np.nan  # one-sided p of "gain <= 10%": small = at least 10% shown
    p_below: float = np.nan  # one-sided p of "gain >= 10%": small = below 10% shown
    p_gain: float = np.nan  # one-sided p of "gain <= 0"
    p_above: float = np.nan  # one-sided p of "gain <= 30%"
    exact: bool = False
    relabellings: int = 0
    verdict: str = INCONCLUSIVE
    why: str = ""


def judge_improvement(xs: Sequence, ys: Sequence, m: int, rng: np.random.Generator, *, rules: ClaimRules = RULES,
                      detail: bool = True, bounded: bool = True, base_label: str = "QMIX") -> Improvement:
    """Claim 1 for one PPS method: `xs`/`ys` its and the baseline's scores on the same maps
    (one array per map, same order); `m` PPS methods are judged at once (Bonferroni: each test
    at `rules.level(m)`). `bounded`: every map is scored by win rate (only then can the
    ceiling apply).

    `detail=False` (the calibration) computes only the test against the 10% margin, which
    alone decides "supported" and "not supported"; the gain's interval and the tests against
    0 and 30% that refine the wording are skipped, with the same verdict otherwise.
    """
    xs = [np.asarray(x, float)[np.isfinite(np.asarray(x, float))] for x in xs]
    ys = [np.asarray(y, float)[np.isfinite(np.asarray(y, float))] for y in ys]
    keep = [i for i, (x, y) in enumerate(zip(xs, ys)) if _enough([x, y], rules)]
    r = Improvement(maps=len(keep), n_runs=int(sum(xs[i].size for i in keep)), too_few=len(xs) - len(keep))
    if not xs:
        r.verdict, r.why = TOO_FEW, f"no map shared with {base_label}"
        return r
    short = _too_few_runs([[xs[i] for i in keep], [ys[i] for i in keep]], rules)
    if short:
        r.verdict, r.why = TOO_FEW, short
        return r
    xs, ys = [xs[i] for i in keep], [ys[i] for i in keep]
    effect = P.RelativeGain(rules.floor)
    r.mean = float(np.mean([x.mean() for x in xs]))
    r.baseline_mean = float(np.mean([y.mean() for y in ys]))
    a = rules.level(m)
    lo, hi = rules.claimed_range
    room = float(np.mean([(1 - y.mean()) / max(y.mean(), rules.floor) for y in ys]))
    if bounded and room < lo:
        r.verdict = CEILING
        r.why = (f"{base_label}'s mean win rates leave room for an average gain of {_pct(room)} at most "
                 f"(a win rate cannot exceed 1)")
        if not detail:
            return r
    relab = P.relabellings([(x.size, y.size) for x, y in zip(xs, ys)], rng, rules.permutation)
    at_margin = P.studentized_test(xs, ys, effect, lo, relab)
    r.gain, r.p_margin, r.p_below = at_margin.estimate, at_margin.p_greater, at_margin.p_less
    r.exact, r.relabellings = at_margin.exact, at_margin.relabellings
    if detail:
        r.p_gain = P.studentized_test(xs, ys, effect, 0.0, relab).p_greater
        r.p_above = P.studentized_test(xs, ys, effect, hi, relab).p_greater
        r.gain_lo, r.gain_hi = P.confidence_bounds(xs, ys, effect, relab, a, lowest=-1.0)
    if r.verdict == CEILING:
        return r
    test = f"{'exact' if r.exact else 'Monte Carlo'} studentized permutation test"
    if r.p_margin <= a:
        above = detail and r.p_above <= a
        r.verdict = SUPPORTED_ABOVE if above else SUPPORTED
        r.why = f"a gain of at least {_pct(lo)} is shown ({_p(r.p_margin)} ≤ {a:.2g}, {test})"
        if above:
            r.why += f"; and one above {_pct(hi)} ({_p(r.p_above)})"
        elif r.gain > hi:
            r.why += f"; the estimate {_pct(r.gain)} is above the claimed {_pct(lo)}–{_pct(hi)}, not shown to be"
    elif r.p_below <= a:
        r.verdict = NOT_SUPPORTED
        r.why = f"an average gain below {_pct(lo)} is shown ({_p(r.p_below)} ≤ {a:.2g}, {test})"
        if detail and r.gain_hi < 0:
            r.why += f"; it is worse than {base_label}"
        elif detail and r.p_gain <= a:
            r.why += f"; a smaller gain over {base_label} is shown ({_p(r.p_gain)})"
    elif detail and r.p_gain <= a:
        r.verdict = GAIN_NOT_MARGIN
        r.why = (f"a gain over {base_label} is shown ({_p(r.p_gain)}), but not one of {_pct(lo)} "
                 f"({_p(r.p_margin)} > {a:.2g})")
    else:
        r.why = (f"neither a gain of {_pct(lo)} ({_p(r.p_margin)}) nor one below it ({_p(r.p_below)}) "
                 f"is shown at {a:.2g}" + _smallest_p_note(relab, a))
    if r.too_few:
        r.why += f"; {r.too_few} map(s) with fewer than {rules.min_seeds} seeds left out"
    return r


def _smallest_p_note(relab: P.Relabellings, a: float) -> str:
    if relab.exact and 1 / relab.count > a:
        return f" (these seed counts allow {relab.count} relabellings: no p below {1 / relab.count:.3f})"
    return ""


def _pct(x: float) -> str:
    return f"{100 * x:+.0f}%" if np.isfinite(x) else "–"


def _p(p: float) -> str:
    """'p = 0.012' or 'p < 0.001'."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


# --------------------------------------------------------------------------- claim 2
@dataclass
class WinPair:
    """One (map, PPS method) of claim 2: how many seeds of each learned the map."""

    map: Key
    method: str
    n: int
    learned: int
    base_n: int
    base_learned: int
    p: float = np.nan  # intersection-union p of "QMIX cannot and the PPS method wins"
    p_holm: float = np.nan
    p_not: float = np.nan  # p of "QMIX cannot and the PPS method wins" being false
    verdict: str = INCONCLUSIVE


@dataclass
class Wins:
    pairs: list[WinPair] = field(default_factory=list)
    verdict: str = INCONCLUSIVE
    why: str = ""


@lru_cache(maxsize=None)
def _binomial_tails(n: int, split: float) -> tuple[np.ndarray, np.ndarray]:
    """P(K <= k) and P(K >= k) for k = 0..n, K ~ Binomial(n, split) (looked up, not recomputed)."""
    k = np.arange(n + 1)
    return sps.binom.cdf(k, n, split), sps.binom.sf(k - 1, n, split)


def learn_pvalues(learned: int, n: int, base_learned: int, base_n: int, split: float) -> tuple[float, float]:
    """(p of the pair's claim, p of its negation), from exact binomial tests.

    The claim on one map: QMIX learns it in fewer than `split` of its seeds AND the PPS method
    in more. Both halves must be shown, so its p is the larger of the two one-sided exact
    binomial p-values (an intersection-union test; each is the Clopper-Pearson bound's test).
    Its negation is shown when either half is refuted; that needs the smaller of the two
    opposite p-values, doubled (Bonferroni over the two halves)."""
    pps_le, pps_ge = _binomial_tails(n, split)
    base_le, base_ge = _binomial_tails(base_n, split)
    cannot = base_le[base_learned]  # small: QMIX learns in fewer than `split` of its seeds
    wins = pps_ge[learned]  # small: the PPS method learns in more
    return float(max(cannot, wins)), float(min(1.0, 2 * min(base_ge[base_learned], pps_le[learned])))


def judge_wins(base: Mapping[Key, np.ndarray], pps: Mapping[str, Mapping[Key, np.ndarray]], *,
               rules: ClaimRules = RULES, base_label: str = "QMIX") -> Wins:
    """Claim 2 on every (map, PPS method) pair where both ran: `base` map -> QMIX's scores,
    `pps` method -> map -> scores (win rates).

    supported = some pair's p, Holm-adjusted over every pair considered (not only the maps
    where QMIX looked bad), is at most alpha; not supported = every pair's negation is shown
    at alpha (all must hold, so no correction is needed); too few = no outcome of these seed
    counts could give either."""
    w = Wins()
    s = rules.split
    for key in sorted(base):
        for method, maps in pps.items():
            if key in maps and maps[key].size and base[key].size:
                x, y = maps[key], base[key]
                pair = WinPair(key, method, x.size, int((x >= rules.learn_score).sum()), y.size,
                               int((y >= rules.learn_score).sum()))
                pair.p, pair.p_not = learn_pvalues(pair.learned, pair.n, pair.base_learned, pair.base_n, s)
                w.pairs.append(pair)
    if not w.pairs:
        w.why = f"not testable in this run: no map on which {base_label} and a PPS method both ran"
        return w
    for pr, adj in zip(w.pairs, holm([pr.p for pr in w.pairs])):
        pr.p_holm = float(adj)
        pr.verdict = SUPPORTED if adj <= rules.alpha else (NOT_SUPPORTED if pr.p_not <= rules.alpha else INCONCLUSIVE)
    k = len(w.pairs)
    best_yes = min(learn_pvalues(p.n, p.n, 0, p.base_n, s)[0] for p in w.pairs)
    best_no = max(min(learn_pvalues(0, p.n, 0, p.base_n, s)[1], learn_pvalues(0, p.n, p.base_n, p.base_n, s)[1])
                  for p in w.pairs)
    line = (f"learns = final win rate ≥ {rules.learn_score:.2g}; {base_label} cannot = learns in fewer than "
            f"{s:.0%} of its seeds, PPS wins = in more")
    if any(pr.verdict == SUPPORTED for pr in w.pairs):
        wins = sorted({f"{method_label(pr.method)} on {pr.map[1]}" for pr in w.pairs if pr.verdict == SUPPORTED})
        w.verdict = SUPPORTED
        w.why = (f"{', '.join(wins)}: shown by exact binomial tests, Holm-adjusted over all {k} (map, PPS method) "
                 f"pairs, p ≤ {rules.alpha} ({line})")
    elif best_yes * k > rules.alpha and best_no > rules.alpha:
        w.verdict = TOO_FEW
        w.why = (f"with these seed counts no outcome could be shown either way over {k} pair(s) ({line}): "
                 f"even 0 of {base_label}'s seeds learning against all of the PPS method's gives p = "
                 f"{best_yes:.3g} > {rules.alpha}/{k}")
    elif all(pr.verdict == NOT_SUPPORTED for pr in w.pairs):
        w.verdict = NOT_SUPPORTED
        w.why = (f"on each of the {k} pair(s), {base_label} is shown to learn the map in at least {s:.0%} of its "
                 f"seeds or the PPS method in at most {s:.0%} (exact binomial, p ≤ {rules.alpha}) ({line})")
    else:
        w.why = f"no pair shows {base_label} failing where the PPS method learns, and not every pair rules it out ({line})"
    return w


# --------------------------------------------------------------------------- claim 3
@dataclass
class Strongest:
    """Claim 3: RS-PPS against each other PPS method, average over maps of the mean difference."""

    maps: int
    too_few: int
    means: dict[str, float]
    diff: dict[str, float]
    lo: dict[str, float]
    hi: dict[str, float]
    p_better: dict[str, float]  # one-sided: RS-PPS better than that method
    p_worse: dict[str, float]  # one-sided: that method better than RS-PPS
    verdict: str
    why: str = ""


def judge_strongest(samples: Mapping[str, Sequence], rng: np.random.Generator, *, rules: ClaimRules = RULES,
                    detail: bool = True, best: str = "rs-pps") -> Strongest:
    """Claim 3: `samples[method]` = its scores on each high-dimensional map (same order for
    every method), with `best` among them and at least one other.

    supported = `best` is shown better than *each* other method at the claim's level (an
    intersection-union test: every test must pass, so none needs a multiplicity correction);
    not supported = some other method is shown better than `best` at that level divided by
    the number of others (Bonferroni)."""
    clean = {mt: [np.asarray(v, float)[np.isfinite(np.asarray(v, float))] for v in xs] for mt, xs in samples.items()}
    n_maps = len(clean[best])
    keep = [j for j in range(n_maps) if _enough([clean[mt][j] for mt in clean], rules)]
    others = [mt for mt in clean if mt != best]
    r = Strongest(len(keep), n_maps - len(keep), {}, {}, {}, {}, {}, {}, INCONCLUSIVE)
    short = _too_few_runs([[xs[j] for j in keep] for xs in clean.values()], rules)
    if short:
        r.verdict, r.why = TOO_FEW, short
        return r
    clean = {mt: [xs[j] for j in keep] for mt, xs in clean.items()}
    effect = P.MeanDifference()
    r.means = {mt: float(np.mean([x.mean() for x in xs])) for mt, xs in clean.items()}
    a_better, a_worse = rules.level(), rules.level(len(others))
    for mt in others:
        relab = P.relabellings([(x.size, y.size) for x, y in zip(clean[best], clean[mt])], rng, rules.permutation)
        t = P.studentized_test(clean[best], clean[mt], effect, 0.0, relab)
        r.diff[mt], r.p_better[mt], r.p_worse[mt] = t.estimate, t.p_greater, t.p_less
        if detail:
            r.lo[mt], r.hi[mt] = P.confidence_bounds(clean[best], clean[mt], effect, relab, a_better)
    if all(p <= a_better for p in r.p_better.values()):
        r.verdict = SUPPORTED
        r.why = (f"RS-PPS is shown better than each other PPS method (largest {_p(max(r.p_better.values()))} "
                 f"≤ {a_better:.2g})")
    elif any(p <= a_worse for p in r.p_worse.values()):
        r.verdict = NOT_SUPPORTED
        beaten = [mt for mt, p in r.p_worse.items() if p <= a_worse]
        r.why = f"{', '.join(map(method_label, beaten))} shown better than RS-PPS (p ≤ {a_worse:.2g})"
    else:
        r.why = (f"RS-PPS is not shown better than every other PPS method (largest {_p(max(r.p_better.values()))} "
                 f"> {a_better:.2g}) and no other is shown better than it")
    if r.too_few:
        r.why += f"; {r.too_few} map(s) with fewer than {rules.min_seeds} seeds left out"
    return r
