"""`tables/claims.md`: the paper's claims next to what this run of the suite measured.

The paper (arXiv 2403.02635) publishes no tables; its abstract claims are judged here on the
final score (`pps.analysis.data.scores`) by the rules of `pps.analysis.claims.rules`, with the
words of `pps.analysis.claims.verdicts`, which the file explains at its top, and the rules in
words and their measured error rates (`pps.analysis.claims.measured`) at its bottom.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from pps.analysis.claims.measured import design_power, load, measured_markdown, power_headline, power_markdown
from pps.analysis.claims.rules import (
    HIGH_DIM_MAPS,
    Improvement,
    judge_improvement,
    judge_strongest,
    judge_wins,
    rules_text,
)
from pps.analysis.claims.verdicts import (
    INCONCLUSIVE,
    NOT_APPLICABLE,
    RULES,
    TOO_FEW,
    ClaimRules,
    familywise_text,
    vocabulary_markdown,
)
from pps.analysis.data import scores
from pps.analysis.data.cells import CELL_COLUMNS, cell_label, chosen_cells, method_label, per_map
from pps.analysis.render import tables as T
from pps.analysis.stats.bootstrap import rng_for
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
    on_shared = [(e, m) in shared for e, m in zip(final["env"], final["map"])]
    word = scores.short(scores.task_kinds(final[on_shared]).values())
    level = _level(1 - 2 * rules.level())
    headers = ["PPS method", f"mean {word}, averaged over {r.maps} high-dim map(s)", "runs",
               f"RS-PPS minus it [{level} interval]", "p (RS-PPS better)", "p (it better)"]
    text = f"{r.why}; high-dimensional maps judged: {', '.join(m for _, m in shared)}"
    return headers, rows, (r.verdict, text)


# --------------------------------------------------------------------------- power at this n
def _design(final: pd.DataFrame, chosen: dict, methods: list[str], maps: set | None) -> tuple[int, int]:
    """(fewest seeds of one of `methods` on one map, number of maps) over the maps all of
    `methods` ran (only those in `maps` where given): the design a claim is judged on, to look
    its calibrated power up by."""
    per = [per_map(final, mt, chosen.get(mt)) for mt in methods]
    keys = set.intersection(*(set(p) for p in per)) if per else set()
    if maps is not None:
        keys &= maps
    if not keys:
        return 0, 0
    return min(p[k].size for p in per for k in keys), len(keys)


def claim_designs(final: pd.DataFrame, chosen: dict, baseline: str, high_dim: tuple[str, ...]) -> dict[str, tuple]:
    """claim -> (seeds, maps) it is judged on here: claim 1 on the maps QMIX and every judged
    PPS method ran, claim 2 on those of them with a win condition, claim 3 on the high-dimensional
    maps every PPS method ran."""
    pps = [mt for mt in chosen if mt in AGGREGATING_METHODS]
    if not pps or baseline not in chosen:
        return {"claim1": (0, 0), "claim2": (0, 0), "claim3": _design(final, chosen, pps, None) if pps else (0, 0)}
    kinds = scores.task_kinds(final)
    won = {k for k, kind in kinds.items() if kind == scores.WIN_RATE}
    high = {k for k in kinds if k[1] in high_dim}
    return {"claim1": _design(final, chosen, [baseline, *pps], None),
            "claim2": _design(final, chosen, [baseline, *pps], won),
            "claim3": _design(final, chosen, pps, high) if "rs-pps" in pps and len(pps) > 1 else (0, 0)}


def _power(design: tuple[int, int], claim: str, calibration: tuple[dict, pd.DataFrame] | None):
    return design_power(claim, *design, calibration[1]) if design[1] and calibration else None


def _power_cell(design: tuple[int, int], claim: str, calibration, verdict: str = "") -> str:
    if verdict == NOT_APPLICABLE:
        return "– (not applicable)"
    if not design[1]:
        return "– (not judged on any map here)"
    return power_headline(_power(design, claim, calibration))


def _power_section(design: tuple[int, int], claim: str, calibration, verdict: str = "") -> str:
    if verdict == NOT_APPLICABLE or not design[1]:
        return "Power at this design: none, the claim is not judged on any map of this run."
    return power_markdown(_power(design, claim, calibration), calibration[0] if calibration else None)


# --------------------------------------------------------------------------- the document
def rules_markdown(rules: ClaimRules = RULES) -> str:
    """The rules of the verdicts, in words (`pps.analysis.claims.rules.RULE_TEXTS` with these
    numbers), then the measured calibration table."""
    return rules_text(rules) + "\n\n" + measured_markdown()


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
    n = final.groupby(CELL_COLUMNS, dropna=False).size()
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
        "Power at this n: how often the rules say supported at this run's design (seeds per method and map, maps "
        "judged) when the paper's claim is true with the effect named, measured by `pps calibrate` on simulated "
        "grids (each claim's section lists every calibrated effect). A verdict short of supported at low power "
        "says little against the claim.",
        "",
        "| claim | verdict | power at this n |",
        "| :-- | :-- | :-- |",
    ]
    designs = claim_designs(final, chosen, baseline, high_dim)
    calibration = load()  # read once for the three claims
    sections = []

    h, rows, verdicts, m = claim_improvement(final, chosen, baseline, seed, rules)
    if not rows:
        v1 = (f"{INCONCLUSIVE}: not testable in this run (no PPS method)" if baseline in chosen
              else f"{INCONCLUSIVE}: no {base_label} runs")
    else:
        v1 = ", ".join(f"{row[0]}: {v}" for row, v in zip(rows, verdicts))
    claim1 = f"{100 * lo:.0f}–{100 * hi:.0f}% average improvement over {base_label}"
    out.append(f"| 1. \"{claim1}\" | {v1} | {_power_cell(designs['claim1'], 'claim1', calibration)} |")
    sec = [f"## 1. \"{claim1}\"", "",
           f"Measured: per PPS method, on the maps both it and {base_label} ran with at least {rules.min_seeds} seeds "
           f"each, the average over maps of the relative gain in mean final {word}, (mean PPS − mean {base_label}) / "
           f"max(mean {base_label}, {rules.floor}); its {_level(1 - 2 * rules.level(m))} interval (for {m} PPS "
           f"method(s) judged at once); and the one-sided p-values of a gain of at most {lo:.0%} and of none "
           f"(studentized permutation tests across maps, each at {rules.size_factor} × {rules.alpha}/{m} = "
           f"{rules.level(m):.3g}).", ""]
    sec += [T.markdown(h, rows).rstrip()] if rows else ["No PPS method or no baseline in this run: nothing to compare."]
    sec += ["", _power_section(designs["claim1"], "claim1", calibration)]
    sections.append("\n".join(sec))

    h, rows, (v2, why2) = claim_wins(final, chosen, baseline, rules)
    out.append(f"| 2. \"wins tasks {base_label} cannot\" | {v2}: {why2} | "
               f"{_power_cell(designs['claim2'], 'claim2', calibration, v2)} |")
    sections.append(_section(
        f"2. \"Wins tasks {base_label} cannot\"",
        f"on each map with a win condition, how many seeds of {base_label} and of each PPS method learn it (final "
        f"win rate ≥ {rules.learn_score:.2g}), with exact {_level(1 - 2 * rules.alpha)} Clopper–Pearson intervals "
        f"of the share that learns; the pair's exact p that {base_label} learns in fewer than {rules.split:.0%} of "
        f"seeds and the PPS method in more (Holm-adjusted over every pair), and the p that this is ruled out.",
        v2, why2, h, rows) + "\n\n" + _power_section(designs["claim2"], "claim2", calibration, v2))

    h, rows, (v3, why3) = claim_rs_high_dim(final, chosen, high_dim, seed, rules)
    out.append(f"| 3. \"RS-PPS strongest on high-dimensional maps\" | {v3}: {why3} | "
               f"{_power_cell(designs['claim3'], 'claim3', calibration, v3)} |")
    source = (f"maps with ≥ {rules.high_dim_min_units} units in total in the suite's map tables, the paper names none"
              if tuple(high_dim) == HIGH_DIM_MAPS else "given with --high-dim-maps")
    sections.append(_section(
        "3. \"RS-PPS strongest on high-dimensional maps\"",
        f"on the high-dimensional maps of this run that every PPS method ran (counted as such: {', '.join(high_dim)}; "
        f"{source}), each PPS method's mean final {word} averaged over those maps, and RS-PPS against each other PPS "
        f"method (difference of means averaged over maps, studentized permutation tests).",
        v3, why3, h, rows) + "\n\n" + _power_section(designs["claim3"], "claim3", calibration, v3))

    out += ["", *["\n".join([s, ""]) for s in sections]]
    out += ["## How verdicts are decided", "", rules_markdown(rules), ""]
    return "\n".join(out).rstrip() + "\n"
