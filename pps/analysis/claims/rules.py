"""The three verdict rules, as code on per-map samples of final scores and as the words of claims.md.

Each `judge_*` takes the runs of each method on each map and returns the numbers of its row
of `claims.md` with a verdict from `pps.analysis.claims.verdicts`. The same functions write
`claims.md` (`pps.analysis.render.claims`) and are calibrated on simulated grids
(`pps.analysis.claims.calibration`), so the measured error rates are those of the published
rules.

Claims 1 and 3 are about *means* over seeds: the paper's "average improvement" is a change in
average win rate, and a mean keeps a reviewer's null (same average, different spread or a
learn-or-fail mix) a null, where the IQM or a rank statistic would call a different shape a
gain. They use the studentized stratified permutation tests of
`pps.analysis.stats.permtests`. Claim 2 counts the seeds that learn a map and uses exact
binomial tests, which hold their level at any seed count.

The rules in words (`RULE_TEXTS`, printed under "How verdicts are decided") are templates
filled with the same `ClaimRules` numbers the judges use (`rule_numbers`), and name the
verdicts with the words of `verdicts`, so the text cannot drift from the code.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from scipy import stats as sps

from pps.analysis.claims.verdicts import (
    CEILING,
    GAIN_NOT_MARGIN,
    INCONCLUSIVE,
    NOT_APPLICABLE,
    NOT_SUPPORTED,
    RULES,
    SUPPORTED,
    SUPPORTED_ABOVE,
    TOO_FEW,
    ClaimRules,
)
from pps.analysis.data.cells import Key, method_label
from pps.analysis.stats import permtests as P
from pps.envs.registry import MAPS


# --------------------------------------------------------------------------- selecting runs
def high_dim_maps(min_units: int = RULES.high_dim_min_units) -> tuple[str, ...]:
    """Maps with at least `min_units` units in total in the suite's SMAX/SMAC map tables.

    The paper names no high-dimensional map; 16 units is 8m's count, whose SMAX observation
    has 205 values against 3m's 75. MPE tasks are never counted: the rule counts StarCraft
    units, and they have no enemies and at most 5 agents."""
    tables = [MAPS[env] for env in ("smax", "smac") if env in MAPS]
    return tuple(sorted({s.map for t in tables for s in t.values() if s.n_agents + s.n_enemies >= min_units}))


HIGH_DIM_MAPS = high_dim_maps()


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


@cache
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
        w.why = (f"no pair shows {base_label} failing where the PPS method learns, and not every pair rules it out "
                 f"({line})")
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


# --------------------------------------------------------------------------- the rules in words
@dataclass(frozen=True)
class RuleText:
    """One paragraph of the rules in words. `template` is filled by `str.format` with
    `rule_fields` (the numbers of `ClaimRules` and the verdict words); `item` is the number of
    the claim it states, or None for a paragraph about all of them. Line breaks in a template
    carry no meaning: the rendering re-wraps every paragraph."""

    template: str
    item: int | None = None

    def render(self, fields: Mapping[str, Any], width: int = 96) -> str:
        text = " ".join(self.template.format(**fields).split())
        if self.item is None:
            return textwrap.fill(text, width, break_on_hyphens=False)
        return textwrap.fill(f"{self.item}. {text}", width, subsequent_indent="   ", break_on_hyphens=False)


def rule_fields(rules: ClaimRules = RULES) -> dict[str, Any]:
    """What a `RuleText` template may name: the rules' numbers, then the verdict words."""
    lo, hi = rules.claimed_range
    return {
        "alpha": rules.alpha, "lo": lo, "hi": hi, "lo_percent": 100 * lo, "hi_percent": 100 * hi,
        "floor": rules.floor, "min_seeds": rules.min_seeds, "min_runs": rules.min_runs,
        "learn_score": rules.learn_score, "split": rules.split, "size_factor": rules.size_factor,
        "high_dim_min_units": rules.high_dim_min_units,
        "max_enumerate": rules.permutation.max_enumerate, "resamples": rules.permutation.resamples,
        "supported": SUPPORTED, "supported_above": SUPPORTED_ABOVE, "not_supported": NOT_SUPPORTED,
        "inconclusive": INCONCLUSIVE, "too_few": TOO_FEW, "ceiling": CEILING, "not_applicable": NOT_APPLICABLE,
    }


RULE_TEXTS: tuple[RuleText, ...] = (
    RuleText("""**Tests.** Claims 1 and 3 compare mean final scores with a studentized permutation test
        across maps: the statistic is (estimate − margin) / its standard error (delta method, each
        method's own variance, so unequal spreads and uneven seed counts are allowed for; each
        variance is at least that of the map's runs pooled under the null, so a sample that happens
        to bunch up, 8 seeds that all learn or all fail, cannot make the error look small); labels
        are permuted within each map; every relabelling is enumerated where there are at most
        {max_enumerate:,}, and otherwise {resamples:,} seeded Monte Carlo relabellings give
        p = (b + 1)/(m + 1). A margin is tested through the sharp null it implies (claim 1: the PPS
        method's runs distributed as 1.1 × QMIX's). These tests are exact where runs are
        interchangeable and only approximately so elsewhere: on the most skewed calibrated nulls (a
        PPS method that learns or fails, on one or two maps, at the minimum number of runs) they
        reject up to about 1.3 times as often as nominal, so each runs at {size_factor} × its
        nominal level. Intervals are the margins the same tests do not reject (test inversion), so
        a bound crosses a margin exactly when that test rejects. Claims 1 and 3 leave out a map
        with fewer than {min_seeds} seeds of a method, and say "{too_few}" where fewer than
        {min_runs} runs of a method remain over the maps judged: the calibration rows marked "no
        minimum of seeds" show the tests above their level below those counts (a method that
        learns or fails looks like a sure gain whenever all of its few seeds happen to learn).
        Claim 2 counts seeds that learn and uses exact binomial tests (Clopper–Pearson), valid at
        any count."""),
    RuleText(""""{lo_percent:.0f}–{hi_percent:.0f}% average improvement over QMIX", per PPS method, on
        the maps both it and QMIX ran with at least {min_seeds} seeds each (at least {min_runs} runs
        each in all). The quantity is the average over maps (each map one vote) of the per-map
        relative gain in mean final score, (mean PPS − mean QMIX) / max(mean QMIX, {floor}). Why
        this average: the paper's "average improvement" is the gain on a typical task of its
        benchmark, so every map counts once (pooling runs would let the maps with the most seeds or
        the highest scores decide); why the mean: the claim is about average win rates, and a
        method that learns or fails with the same average as QMIX has gained nothing on average
        (the IQM or a rank test would call that a gain). The floor: on a map QMIX scores below
        {floor:.0%} on, a gain is counted in units of {floor:.0%} rather than divided by noise
        (claim 2 is about those maps). With m PPS methods judged, each test is at {size_factor} ×
        {alpha}/m (Bonferroni). **{supported}** = "gain ≤ {lo:.0%}" rejected; **{supported_above}**
        = "gain ≤ {hi:.0%}" also rejected; **{not_supported}** = "gain ≥ {lo:.0%}" rejected;
        **gain shown, {lo:.0%} not shown** = only "gain ≤ 0" rejected; **{ceiling}** = every map
        scored by win rate and QMIX's means leave room for less than an average {lo:.0%} gain;
        **{inconclusive}** otherwise.""", item=1),
    RuleText(""""wins tasks QMIX cannot", on the tasks with a win condition only ("{not_applicable}"
        where there is none). A seed *learns* a map when its final win rate is at least
        {learn_score:.2g}. On one map, QMIX *cannot* win it when it learns it in fewer than
        {split:.0%} of its seeds, and a PPS method *wins* it when it learns it in more. Each (map,
        PPS method) pair where both ran is tested: the pair's p is the larger of the two exact
        one-sided binomial p-values (both halves must be shown: intersection–union), Holm-adjusted
        over every pair considered, whatever QMIX scored there. **{supported}** = some pair's
        adjusted p ≤ {alpha}; **{not_supported}** = on every pair, QMIX is shown to learn the map in
        at least {split:.0%} of its seeds or the PPS method in at most {split:.0%} (the smaller
        opposite p, doubled, ≤ {alpha}); **{too_few}** = no outcome of these seed counts could give
        either (with 5 seeds: even 0 of 5 against 5 of 5 gives p = 0.031 > {alpha}, since 0 of 5 is
        compatible with a 52% chance of learning).""", item=2),
    RuleText(""""RS-PPS strongest on high-dimensional maps", on the high-dimensional maps every PPS
        method ran with at least {min_seeds} seeds (at least {min_runs} runs each in all): RS-PPS
        against each other PPS method, the average over maps of the difference in mean score.
        **{supported}** = RS-PPS shown better than *each* other PPS method at {size_factor} ×
        {alpha} (intersection–union: every test must pass, so none needs a correction);
        **{not_supported}** = some other PPS method shown better than RS-PPS at that level divided
        by the number of others; **{inconclusive}** otherwise.""", item=3),
    RuleText("""High-dimensional maps: the paper names none, so the suite counts a map as
        high-dimensional when it has at least {high_dim_min_units} units in total (allies +
        enemies) in its SMAX/SMAC map table: 8m's count, whose SMAX observation has 205 values
        against 3m's 75. Among the paper's maps that is 8m, MMM2 and corridor. Particle (MPE) tasks
        are never counted. `pps stats --high-dim-maps` replaces the list. Each PPS method is judged
        at one interval: `--claims-interval` (the authors' 300) where it ran, else the nearest on a
        log scale."""),
)


def rules_text(rules: ClaimRules = RULES, width: int = 96) -> str:
    """The rules in words with these numbers, wrapped at `width`: paragraphs apart, the numbered
    claims one under the other."""
    fields = rule_fields(rules)
    out = ""
    for i, part in enumerate(RULE_TEXTS):
        if i:
            out += "\n" if part.item is not None and RULE_TEXTS[i - 1].item is not None else "\n\n"
        out += part.render(fields, width)
    return out
