"""`tables/claims.md`: the paper's claims next to what this run of the suite measured.

The paper (arXiv 2403.02635) publishes no tables; its abstract claims are judged here on the
final score (`pps.analysis.scores`) by the rules of `pps.analysis.claims`, with the words of
`pps.analysis.verdicts`, which the file explains at its top, and the rules and their measured
error rates (`pps.analysis.calibration_table`) at its bottom.
"""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pandas as pd
from scipy import stats as sps

from pps.analysis import scores
from pps.analysis import tables as T
from pps.analysis.calibration_table import measured_markdown
from pps.analysis.claims import (HIGH_DIM_MAPS, Improvement, chosen_cells, judge_improvement, judge_strongest,
                                 judge_wins, per_map)
from pps.analysis.stats import rng_for
from pps.analysis.style import cell_label, method_label
from pps.analysis.verdicts import (INCONCLUSIVE, NOT_APPLICABLE, RULES, TOO_FEW, ClaimRules, familywise_text,
                                   vocabulary_markdown)
from pps.methods import AGGREGATING_METHODS


def _pct(x: float) -> str:
    return T.pct(x) if np.isfinite(x) else T.DASH


def _level(confidence: float) -> str:
    return f"{100 * confidence:.1f}%".replace(".0%", "%")


# --------------------------------------------------------------------------- claim 1
def claim_improvement(final: pd.DataFrame, chosen: dict, baseline: str, seed: int, rules: ClaimRules = RULES):
    """(headers, rows, verdicts, m): one row per PPS method."""
    base_label = method_label(baseline)
    base = per_map(final, baseline, None)
    methods = [mt for mt in chosen if mt in AGGREGATING_METHODS]
    m = max(1, len(methods))
    kinds = scores.task_kinds(final)
    rows, verdicts = [], []
    for method in methods:
        own = per_map(final, method, chosen[method])
        shared = [k for k in sorted(own) if k in base]
        r = judge_improvement([own[k] for k in shared], [base[k] for k in shared], m,
                              rng_for(seed, "claim1", method, chosen[method]), rules=rules, base_label=base_label,
                              bounded=scores.bounded(kinds[k] for k in shared))
        verdicts.append(r.verdict)
        rows.append([cell_label(method, chosen[method]), str(r.maps), str(r.n_runs), T.num(r.mean),
                     T.num(r.baseline_mean), _gain_ci(r), _per_map_gains(own, base, shared, rules), T.pval(r.p_margin),
                     T.pval(r.p_gain), f"**{r.verdict}**: {r.why}"])
    level = _level(1 - 2 * rules.level(m))
    headers = ["PPS method", "maps", "runs", "mean score", f"mean {base_label}", f"average gain [{level} interval]",
               "gain per map", f"p (gain ≤ {rules.margin:.0%})", "p (gain ≤ 0)", "verdict"]
    return headers, rows, verdicts, m


def _gain_ci(r: Improvement) -> str:
    if not np.isfinite(r.gain):
        return T.DASH
    if not (np.isfinite(r.gain_lo) or np.isfinite(r.gain_hi)):
        return _pct(r.gain)
    return f"{_pct(r.gain)} [{T.pct_inf(r.gain_lo)}, {T.pct_inf(r.gain_hi)}]"


def _per_map_gains(own, base, shared, rules: ClaimRules) -> str:
    parts = []
    for k in shared:
        x, y = own[k], base[k]
        ok = x.size >= rules.min_seeds and y.size >= rules.min_seeds
        gain = (x.mean() - y.mean()) / max(y.mean(), rules.floor)
        parts.append(f"{k[1]} {_pct(gain)}" + ("" if ok else f" (n < {rules.min_seeds}, left out)"))
    return ", ".join(parts) or T.DASH


# --------------------------------------------------------------------------- claim 2
def _learn_ci(k: int, n: int, alpha: float) -> str:
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=1 - 2 * alpha, method="exact")
    return f"{k}/{n} [{ci.low:.2f}, {ci.high:.2f}]"


def claim_wins(final: pd.DataFrame, chosen: dict, baseline: str, rules: ClaimRules = RULES):
    """Claim 2 on the tasks with a win condition; "not applicable" if the run has none."""
    base_label = method_label(baseline)
    methods = [mt for mt in chosen if mt in AGGREGATING_METHODS]
    kinds = scores.task_kinds(final)
    no_win = sorted(k for k, kind in kinds.items() if kind != scores.WIN_RATE)
    level = _level(1 - 2 * rules.alpha)
    headers = ["map", "PPS method", f"PPS seeds that learn [{level} CI]", f"{base_label} seeds that learn [{level} CI]",
               "p (Holm)", "p (ruled out)", "verdict"]
    if kinds and len(no_win) == len(kinds):
        return headers, [], (NOT_APPLICABLE, f"no task of this run has a win condition ({len(no_win)} scored by "
                                             f"normalised return), so none can be won or lost")
    final = final[[kinds[(e, m)] == scores.WIN_RATE for e, m in zip(final["env"], final["map"])]]
    base = per_map(final, baseline, None)
    pps = {mt: per_map(final, mt, chosen[mt]) for mt in methods}
    w = judge_wins(base, pps, rules=rules, base_label=base_label)
    rows = [[pr.map[1], cell_label(pr.method, chosen[pr.method]), _learn_ci(pr.learned, pr.n, rules.alpha),
             _learn_ci(pr.base_learned, pr.base_n, rules.alpha), f"{T.pval(pr.p)} ({T.pval(pr.p_holm)})",
             T.pval(pr.p_not), f"**{pr.verdict}**"] for pr in w.pairs]
    why = w.why
    if no_win:
        why += (f" (not applicable on {', '.join(m for _, m in no_win)}: no win condition, scored by normalised "
                f"return)")
    return headers, rows, (w.verdict, why)


# --------------------------------------------------------------------------- claim 3
def claim_rs_high_dim(final: pd.DataFrame, chosen: dict, high_dim: tuple[str, ...], seed: int,
                      rules: ClaimRules = RULES):
    pps = [m for m in chosen if m in AGGREGATING_METHODS]
    maps_present = sorted({(e, m) for e, m in zip(final["env"], final["map"]) if m in high_dim})
    if "rs-pps" not in pps:
        return [], [], (INCONCLUSIVE, "not testable in this run: no RS-PPS runs")
    if len(pps) < 2:
        return [], [], (INCONCLUSIVE, "not testable in this run: RS-PPS is the only PPS method")
    if not maps_present:
        return [], [], (INCONCLUSIVE, "not testable in this run: none of its maps is high-dimensional")
    per = {method: per_map(final, method, chosen[method]) for method in pps}
    shared = [k for k in maps_present if all(k in per[m] for m in pps)]
    if not shared:
        return [], [], (INCONCLUSIVE, "not testable in this run: no high-dimensional map on which every PPS method ran")
    samples = {m: [per[m][k] for k in shared] for m in pps}
    r = judge_strongest(samples, rng_for(seed, "claim3"), rules=rules)
    rows = []
    for method in pps if r.verdict != TOO_FEW else []:
        runs = str(sum(x.size for x in samples[method]))
        if method == "rs-pps":
            rows.append([cell_label(method, chosen[method]), T.num(r.means[method]), runs, "ref.", T.DASH, T.DASH])
        else:
            rows.append([cell_label(method, chosen[method]), T.num(r.means[method]), runs,
                         T.ci(r.diff[method], r.lo.get(method, np.nan), r.hi.get(method, np.nan)),
                         T.pval(r.p_better[method]), T.pval(r.p_worse[method])])
    word = scores.short(scores.task_kinds(final[[(e, m) in shared for e, m in zip(final["env"], final["map"])]]).values())
    level = _level(1 - 2 * rules.level())
    headers = ["PPS method", f"mean {word}, averaged over {r.maps} high-dim map(s)", "runs",
               f"RS-PPS minus it [{level} interval]", "p (RS-PPS better)", "p (it better)"]
    text = f"{r.why}; high-dimensional maps judged: {', '.join(m for _, m in shared)}"
    return headers, rows, (r.verdict, text)


# --------------------------------------------------------------------------- the document
def rules_markdown(rules: ClaimRules = RULES) -> str:
    """The rules of the verdicts, in words, then the measured calibration table."""
    a = rules.alpha
    lo, hi = rules.claimed_range
    perm = rules.permutation
    text = f"""**Tests.** Claims 1 and 3 compare mean final scores with a studentized permutation test
across maps: the statistic is (estimate − margin) / its standard error (delta method, each
method's own variance, so unequal spreads and uneven seed counts are allowed for; each
variance is at least that of the map's runs pooled under the null, so a sample that happens
to bunch up, 8 seeds that all learn or all fail, cannot make the error look small); labels
are permuted within each map; every relabelling is enumerated where there are at most
{perm.max_enumerate:,}, and otherwise {perm.resamples:,} seeded Monte Carlo relabellings give
p = (b + 1)/(m + 1). A margin is tested through the sharp null it implies (claim 1: the PPS
method's runs distributed as 1.1 × QMIX's). These tests are exact where runs are
interchangeable and only approximately so elsewhere: on the most skewed calibrated nulls (a
PPS method that learns or fails, on one or two maps, at the minimum number of runs) they
reject up to about 1.3 times as often as nominal, so each runs at {rules.size_factor} × its
nominal level. Intervals are the margins the
same tests do not reject (test inversion), so a bound crosses a margin exactly when that test
rejects. Claims 1 and 3 leave out a map with fewer than {rules.min_seeds} seeds of a method, and
say "inconclusive at this n" where fewer than {rules.min_runs} runs of a method remain over the
maps judged: the calibration rows marked "no minimum of seeds" show the tests above their
level below those counts (a method that learns or fails looks like a sure gain whenever all
of its few seeds happen to learn).
Claim 2 counts seeds that learn and uses exact binomial tests (Clopper–Pearson), valid at any
count.

1. "{100 * lo:.0f}–{100 * hi:.0f}% average improvement over QMIX", per PPS method, on the maps both it and
   QMIX ran with at least {rules.min_seeds} seeds each (at least {rules.min_runs} runs each in all).
   The quantity is the average over maps
   (each map one vote) of the per-map relative gain in mean final score,
   (mean PPS − mean QMIX) / max(mean QMIX, {rules.floor}). Why this average: the paper's "average
   improvement" is the gain on a typical task of its benchmark, so every map counts once
   (pooling runs would let the maps with the most seeds or the highest scores decide); why the
   mean: the claim is about average win rates, and a method that learns or fails with the same
   average as QMIX has gained nothing on average (the IQM or a rank test would call that a
   gain). The floor: on a map QMIX scores below {rules.floor:.0%} on, a gain is counted in units
   of {rules.floor:.0%} rather than divided by noise (claim 2 is about those maps). With m PPS
   methods judged, each test is at {rules.size_factor} × {a}/m (Bonferroni).
   **supported** = "gain ≤ {lo:.0%}" rejected; **supported, above the claimed range** = "gain ≤
   {hi:.0%}" also rejected; **not supported** = "gain ≥ {lo:.0%}" rejected; **gain shown, {lo:.0%}
   not shown** = only "gain ≤ 0" rejected; **not testable (ceiling)** = every map scored by win
   rate and QMIX's means leave room for less than an average {lo:.0%} gain; **inconclusive**
   otherwise.
2. "wins tasks QMIX cannot", on the tasks with a win condition only ("not applicable" where
   there is none). A seed *learns* a map when its final win rate is at least
   {rules.learn_score:.2g}. On one map, QMIX *cannot* win it when it learns it in fewer than
   {rules.split:.0%} of its seeds, and a PPS method *wins* it when it learns it in more. Each
   (map, PPS method) pair where both ran is tested: the pair's p is the larger of the two exact
   one-sided binomial p-values (both halves must be shown: intersection–union), Holm-adjusted
   over every pair considered, whatever QMIX scored there. **supported** = some pair's adjusted
   p ≤ {a}; **not supported** = on every pair, QMIX is shown to learn the map in at least
   {rules.split:.0%} of its seeds or the PPS method in at most {rules.split:.0%} (the smaller
   opposite p, doubled, ≤ {a}); **inconclusive at this n** = no outcome of these seed counts
   could give either (with 5 seeds: even 0 of 5 against 5 of 5 gives p = 0.031 > {a}, since 0
   of 5 is compatible with a 52% chance of learning).
3. "RS-PPS strongest on high-dimensional maps", on the high-dimensional maps every PPS method
   ran with at least {rules.min_seeds} seeds (at least {rules.min_runs} runs each in all):
   RS-PPS against each other PPS method, the average
   over maps of the difference in mean score. **supported** = RS-PPS shown better than *each*
   other PPS method at {rules.size_factor} × {a} (intersection–union: every test must pass, so
   none needs a correction); **not supported** = some other PPS method shown better than
   RS-PPS at that level divided by the number of others; **inconclusive** otherwise.

High-dimensional maps: the paper names none, so the suite counts a map as high-dimensional
when it has at least {rules.high_dim_min_units} units in total (allies + enemies) in its
SMAX/SMAC map table: 8m's count, whose SMAX observation has 205 values against 3m's 75. Among
the paper's maps that is 8m, MMM2 and corridor. Particle (MPE) tasks are never counted.
`pps stats --high-dim-maps` replaces the list. Each PPS method is judged at one interval:
`--claims-interval` (the authors' 300) where it ran, else the nearest on a log scale."""
    return _reflow(text) + "\n\n" + measured_markdown()


def _reflow(text: str, width: int = 96) -> str:
    """Re-wrap paragraphs and numbered items (the template's lines break where its code does)."""
    blocks, current = [], []
    for line in text.splitlines():
        if not line.strip() or re.match(r"\d\. ", line):
            if current:
                blocks.append(current)
            current = [] if not line.strip() else [line]
            if not line.strip():
                blocks.append([])
            continue
        current.append(line.strip())
    if current:
        blocks.append(current)
    out = []
    for block in blocks:
        if not block:
            out.append("")
            continue
        joined = " ".join(block)
        item = re.match(r"\d\. ", joined)
        out.append(textwrap.fill(joined, width, subsequent_indent="   " if item else "", break_on_hyphens=False))
    return "\n".join(out)


def _section(title: str, measured: str, verdict: str, why: str, header, rows) -> str:
    lines = [f"## {title}", "", f"Measured: {measured}", "", f"**{verdict}**: {why}."]
    if rows:
        lines += ["", T.markdown(header, rows).rstrip()]
    if any(T.DEGENERATE in str(c) for row in rows for c in row):
        lines += ["", f"{T.DEGENERATE} zero-width interval: the runs tie so completely that the tests tell no two "
                      f"margins apart; it reflects too few distinct scores, not certainty."]
    return "\n".join(lines)


def claims_markdown(final: pd.DataFrame, *, baseline: str, claims_interval: int, high_dim: tuple[str, ...],
                    seed: int, final_window: str, rules: ClaimRules = RULES) -> str:
    chosen = chosen_cells(final, claims_interval)
    base_label = method_label(baseline)
    n = final.groupby(["env", "map", "method", "interval"], dropna=False).size()
    n_text = f"{n.min()}" if n.min() == n.max() else f"{n.min()}–{n.max()}"
    judged = ", ".join(cell_label(m, k) for m, k in chosen.items() if m in AGGREGATING_METHODS) or "none"
    kinds = scores.task_kinds(final).values()
    word = scores.short(kinds)
    score_text = (f"Score: final test win rate ({final_window})." if scores.bounded(kinds)
                  else scores.describe(kinds, lead=f"Score: final score ({final_window}), that is "))
    lo, hi = rules.claimed_range
    out = [
        "# The paper's claims against this run",
        "",
        f"PPS-QMIX (arXiv 2403.02635) against what this run of pps-bench measured: {len(final)} complete runs, "
        f"maps {', '.join(sorted(set(final['map'])))}, {n_text} seeds per method and interval. {score_text} "
        f"Baseline: {base_label}. PPS methods are judged at K = {claims_interval} learner updates where they ran "
        f"it, else the nearest K: {judged}.",
        "",
        "What the verdicts mean:",
        "",
        vocabulary_markdown(rules),
        "",
        familywise_text(rules),
        "",
        "| claim | verdict |",
        "| :-- | :-- |",
    ]
    sections = []

    h, rows, verdicts, m = claim_improvement(final, chosen, baseline, seed, rules)
    if not rows:
        v1 = (f"{INCONCLUSIVE}: not testable in this run (no PPS method)" if baseline in chosen
              else f"{INCONCLUSIVE}: no {base_label} runs")
    else:
        v1 = ", ".join(f"{row[0]}: {v}" for row, v in zip(rows, verdicts))
    claim1 = f"{100 * lo:.0f}–{100 * hi:.0f}% average improvement over {base_label}"
    out.append(f"| 1. \"{claim1}\" | {v1} |")
    sec = [f"## 1. \"{claim1}\"", "",
           f"Measured: per PPS method, on the maps both it and {base_label} ran with at least {rules.min_seeds} seeds "
           f"each, the average over maps of the relative gain in mean final {word}, (mean PPS − mean {base_label}) / "
           f"max(mean {base_label}, {rules.floor}); its {_level(1 - 2 * rules.level(m))} interval (for {m} PPS "
           f"method(s) judged at once); and the one-sided p-values of a gain of at most {lo:.0%} and of none "
           f"(studentized permutation tests across maps, each at {rules.size_factor} × {rules.alpha}/{m} = "
           f"{rules.level(m):.3g}).", ""]
    sec += [T.markdown(h, rows).rstrip()] if rows else ["No PPS method or no baseline in this run: nothing to compare."]
    sections.append("\n".join(sec))

    h, rows, (v2, why2) = claim_wins(final, chosen, baseline, rules)
    out.append(f"| 2. \"wins tasks {base_label} cannot\" | {v2}: {why2} |")
    sections.append(_section(
        f"2. \"Wins tasks {base_label} cannot\"",
        f"on each map with a win condition, how many seeds of {base_label} and of each PPS method learn it (final "
        f"win rate ≥ {rules.learn_score:.2g}), with exact {_level(1 - 2 * rules.alpha)} Clopper–Pearson intervals "
        f"of the share that learns; the pair's exact p that {base_label} learns in fewer than {rules.split:.0%} of "
        f"seeds and the PPS method in more (Holm-adjusted over every pair), and the p that this is ruled out.",
        v2, why2, h, rows))

    h, rows, (v3, why3) = claim_rs_high_dim(final, chosen, high_dim, seed, rules)
    out.append(f"| 3. \"RS-PPS strongest on high-dimensional maps\" | {v3}: {why3} |")
    source = (f"maps with ≥ {rules.high_dim_min_units} units in total in the suite's map tables, the paper names none"
              if tuple(high_dim) == HIGH_DIM_MAPS else "given with --high-dim-maps")
    sections.append(_section(
        "3. \"RS-PPS strongest on high-dimensional maps\"",
        f"on the high-dimensional maps of this run that every PPS method ran (counted as such: {', '.join(high_dim)}; "
        f"{source}), each PPS method's mean final {word} averaged over those maps, and RS-PPS against each other PPS "
        f"method (difference of means averaged over maps, studentized permutation tests).",
        v3, why3, h, rows))

    out += ["", *["\n".join([s, ""]) for s in sections]]
    out += ["## How verdicts are decided", "", rules_markdown(rules), ""]
    return "\n".join(out).rstrip() + "\n"
