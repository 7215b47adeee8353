"""The paper's claims next to what this run of the suite measured (`tables/claims.md`).

The paper (arXiv 2403.02635) publishes no tables; its abstract claims, tested here on the
final test win rate (DESIGN §3):

1. "10–30% average improvement over QMIX": per PPS method, the relative improvement of the
   IQM final win rate over QMIX across all maps both ran (stratified bootstrap CI).
   supported = CI above 0 and overlapping [10%, 30%] (above 30% is reported as supported,
   larger than claimed); not supported = CI entirely below 10%; inconclusive otherwise.
2. "wins tasks QMIX cannot": a map where QMIX *fails* (IQM final win rate, upper CI bound,
   below 5%) and a PPS method *wins* (lower CI bound at least 20%). supported = at least one
   such (map, method); inconclusive = QMIX fails somewhere and a PPS method's IQM is >= 20%
   there but its CI reaches below, or QMIX fails nowhere (not testable in this run); not
   supported = QMIX fails on some map and every PPS method's IQM there is below 20%.
3. "RS-PPS strongest on high-dimensional maps": on the high-dimensional maps present, the IQM
   of RS-PPS minus the best other PPS method's IQM (stratified bootstrap over those maps).
   supported = CI above 0; not supported = CI below 0; inconclusive otherwise.

Each PPS method is judged at one interval: `claims_interval` (the authors' 300) where it
ran, else the interval nearest to it on a log scale; the text says which.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pps.analysis import tables as T
from pps.analysis.stats import (CI_METHOD, SCORE, STRATIFIED_CI_METHOD, iqm, percentile_ci,
                                rng_for, stratified_resample)
from pps.analysis.style import cell_label, has_interval, method_label, method_order
from pps.methods import AGGREGATING_METHODS

FAIL_LEVEL = 0.05  # a baseline whose IQM win rate's upper CI is below this "cannot" win the map
WIN_LEVEL = 0.20  # a method whose IQM win rate's lower CI reaches this "wins" the map
CLAIMED_RANGE = (0.10, 0.30)
# Maps with many units (so large observation and state vectors) among SMAC/SMAX scenarios;
# the paper's high-dimensional examples. Override with `pps stats --high-dim-maps`.
HIGH_DIM_MAPS = ("8m", "MMM", "MMM2", "3s5z", "3s5z_vs_3s6z", "corridor", "10m_vs_11m", "25m",
                 "27m_vs_30m", "bane_vs_bane", "2c_vs_64zg", "6h_vs_8z", "smacv2_10_units", "smacv2_20_units")


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


def _select(df: pd.DataFrame, method: str, interval) -> pd.DataFrame:
    m = df["method"] == method
    return df[m & (df["interval"].isna() if interval is None else df["interval"] == interval)]


def _ci_text(point, lo, hi, as_pct=False) -> str:
    if as_pct:
        if not T._finite(point):
            return T.DASH
        s = T.pct(point)
        return s + (f" [{T.pct(lo)}, {T.pct(hi)}]" if T._finite(lo) and T._finite(hi) else "")
    return T.ci(point, lo, hi)


def claim_improvement(aggregate: pd.DataFrame, chosen: dict, baseline: str):
    rows, verdicts = [], []
    base_label = method_label(baseline)
    for method in [m for m in chosen if m in AGGREGATING_METHODS]:
        r = _select(aggregate, method, chosen[method])
        if r.empty:
            continue
        r = r.iloc[0]
        if not T._finite(r.get("diff")):
            v, why = "inconclusive", f"no {base_label} runs on the maps it ran"
        elif not T._finite(r["rel_improvement"]):
            v, why = "inconclusive", f"{base_label}'s IQM is 0, so a relative improvement is undefined (absolute difference {T.num(r['diff'])})"
        else:
            lo, hi = r["rel_ci_low"], r["rel_ci_high"]
            if not (T._finite(lo) and T._finite(hi)):
                v, why = "inconclusive", "no CI at this n"
            elif lo > 0 and hi >= CLAIMED_RANGE[0]:
                v = "supported"
                why = "improvement larger than the claimed range" if lo > CLAIMED_RANGE[1] else "CI above 0 and overlapping 10–30%"
            elif hi < CLAIMED_RANGE[0]:
                v, why = "not supported", "the CI lies below a 10% improvement" + (" (PPS is worse)" if hi < 0 else "")
            else:
                v, why = "inconclusive", "the CI includes no improvement as well as the claimed one"
        verdicts.append(v)
        rows.append([cell_label(method, chosen[method]), f"{int(r['compared_maps']) if T._finite(r.get('compared_maps')) else 0}",
                     T.num(r["iqm"]), T.num(r.get("baseline_iqm")),
                     _ci_text(r.get("diff"), r.get("diff_ci_low"), r.get("diff_ci_high")),
                     _ci_text(r.get("rel_improvement"), r.get("rel_ci_low"), r.get("rel_ci_high"), as_pct=True),
                     _ci_text(r.get("prob_improvement"), r.get("pi_ci_low"), r.get("pi_ci_high")),
                     f"**{v}**: {why}"])
    headers = ["PPS method", "maps", "IQM", f"IQM {base_label}", "Δ IQM [95% CI]", "relative [95% CI]",
               f"P(> {base_label}) [95% CI]", "verdict"]
    return headers, rows, verdicts


def claim_wins(stats: pd.DataFrame, chosen: dict, baseline: str):
    base_label = method_label(baseline)
    rows, verdicts = [], []
    base = stats[stats["method"] == baseline]
    failing = []
    for r in base.itertuples():
        upper = r.iqm_ci_high if T._finite(r.iqm_ci_high) else r.iqm
        if T._finite(upper) and upper < FAIL_LEVEL:
            failing.append((r.env, r.map))
    for env, map_ in failing:
        for method in [m for m in chosen if m in AGGREGATING_METHODS]:
            r = _select(stats[(stats["env"] == env) & (stats["map"] == map_)], method, chosen[method])
            if r.empty:
                continue
            r = r.iloc[0]
            lower = r["iqm_ci_low"] if T._finite(r["iqm_ci_low"]) else np.nan
            if T._finite(lower) and lower >= WIN_LEVEL:
                v = "supported"
            elif T._finite(r["iqm"]) and r["iqm"] >= WIN_LEVEL:
                v = "inconclusive"
            else:
                v = "not supported"
            verdicts.append(v)
            b = base[(base["env"] == env) & (base["map"] == map_)].iloc[0]
            rows.append([map_, cell_label(method, chosen[method]), str(int(r["n"])),
                         T.ci(r["iqm"], r["iqm_ci_low"], r["iqm_ci_high"]), T.ci(b["iqm"], b["iqm_ci_low"], b["iqm_ci_high"]),
                         f"{T.pval(r['mannwhitney_p'])} ({T.pval(r['mannwhitney_p_fdr'])})",
                         T.ci(r["prob_improvement"], r["pi_ci_low"], r["pi_ci_high"]), f"**{v}**"])
    headers = ["map", "PPS method", "n", "IQM win rate [95% CI]", f"{base_label} IQM [95% CI]", "p MWU (FDR)",
               f"P(> {base_label}) [95% CI]", "verdict"]
    n_base_maps = len(base)
    if not failing:
        summary = ("inconclusive", f"not testable in this run: {base_label} reaches an IQM win rate whose upper CI is "
                   f"≥ {FAIL_LEVEL:.0%} on all {n_base_maps} map(s) it ran, so there is no task it cannot win"
                   if n_base_maps else f"not testable: no {base_label} runs")
    elif "supported" in verdicts:
        wins = sorted({f"{row[1]} on {row[0]}" for row, v in zip(rows, verdicts) if v == "supported"})
        summary = ("supported", f"{', '.join(wins)}: lower CI bound ≥ {WIN_LEVEL:.0%} where {base_label}'s upper bound is < {FAIL_LEVEL:.0%}")
    elif "inconclusive" in verdicts:
        summary = ("inconclusive", f"a PPS method's IQM reaches {WIN_LEVEL:.0%} where {base_label} fails, but its CI does not exclude failure at this n")
    elif verdicts:
        summary = ("not supported", f"{base_label} fails on {len(failing)} map(s) and so does every PPS method (IQM < {WIN_LEVEL:.0%})")
    else:
        summary = ("inconclusive", f"{base_label} fails on {len(failing)} map(s) but no PPS method ran there")
    return headers, rows, summary


def claim_rs_high_dim(final: pd.DataFrame, chosen: dict, high_dim: tuple[str, ...], seed: int):
    pps = [m for m in chosen if m in AGGREGATING_METHODS]
    maps_present = sorted({(e, m) for e, m in zip(final["env"], final["map"]) if m in high_dim})
    if "rs-pps" not in pps:
        return [], [], ("inconclusive", "not testable in this run: no RS-PPS runs")
    others = [m for m in pps if m != "rs-pps"]
    if not others:
        return [], [], ("inconclusive", "not testable in this run: RS-PPS is the only PPS method")
    if not maps_present:
        return [], [], ("inconclusive", f"not testable in this run: none of its maps is high-dimensional "
                                        f"(counted as such: {', '.join(high_dim)})")
    samples = {}
    for method in pps:
        sel = _select(final, method, chosen[method])
        samples[method] = {k: g[SCORE].dropna().to_numpy(float) for k, g in sel.groupby(["env", "map"])}
    shared = [k for k in maps_present if all(k in samples[m] and samples[m][k].size for m in pps)]
    if not shared:
        return [], [], ("inconclusive", "not testable in this run: no high-dimensional map on which every PPS method ran")
    rng = rng_for(seed, "claim3")
    boots, points = {}, {}
    for method in pps:
        xs = [samples[method][k] for k in shared]
        points[method] = float(iqm(np.concatenate(xs)))
        boots[method] = iqm(stratified_resample(xs, rng), axis=1)
    best_other = np.max(np.stack([boots[m] for m in others]), axis=0)
    diff = float(points["rs-pps"] - max(points[m] for m in others))
    lo, hi = percentile_ci(boots["rs-pps"] - best_other)
    rows = []
    for method in pps:
        lo_m, hi_m = percentile_ci(boots[method])
        rows.append([cell_label(method, chosen[method]), T.ci(points[method], lo_m, hi_m),
                     str(sum(samples[method][k].size for k in shared))])
    headers = ["PPS method", f"IQM win rate on {len(shared)} high-dim map(s) [95% stratified CI]", "runs"]
    if lo > 0:
        v = "supported"
    elif hi < 0:
        v = "not supported"
    else:
        v = "inconclusive"
    text = (f"RS-PPS minus the best other PPS method: {T.ci(diff, lo, hi)} on "
            f"{', '.join(m for _, m in shared)}")
    return headers, rows, (v, text)



def _section(title: str, measured: str, verdict: str, why: str, header, rows) -> str:
    """One claim's section of claims.md: what was measured, the verdict, and its table if any."""
    lines = [f"## {title}", "", f"Measured: {measured}", "", f"**{verdict}**: {why}."]
    if rows:
        lines += ["", T.markdown(header, rows).rstrip()]
    return "\n".join(lines)

def claims_markdown(final: pd.DataFrame, stats: pd.DataFrame, aggregate: pd.DataFrame, *, baseline: str,
                    claims_interval: int, high_dim: tuple[str, ...], seed: int, final_window: str) -> str:
    chosen = chosen_cells(final, claims_interval)
    base_label = method_label(baseline)
    n = final.groupby(["env", "map", "method", "interval"], dropna=False).size()
    n_text = f"{n.min()}" if n.min() == n.max() else f"{n.min()}–{n.max()}"
    judged = ", ".join(cell_label(m, k) for m, k in chosen.items() if m in AGGREGATING_METHODS) or "none"
    out = [
        "# The paper's claims against this run",
        "",
        f"PPS-QMIX (arXiv 2403.02635) against what this run of pps-bench measured: {len(final)} complete runs, "
        f"maps {', '.join(sorted(set(final['map'])))}, {n_text} seeds per method and interval. Score: final test "
        f"win rate ({final_window}). Baseline: {base_label}. PPS methods are judged at "
        f"K = {claims_interval} learner updates where they ran it, else the nearest K: {judged}. "
        f"CIs: {CI_METHOD}; across maps: {STRATIFIED_CI_METHOD}. With few seeds these CIs are optimistic, so "
        f"'inconclusive at this n' is the honest reading of wide ones.",
        "",
        "| claim | verdict |",
        "| :-- | :-- |",
    ]
    sections = []

    h, rows, verdicts = claim_improvement(aggregate, chosen, baseline)
    if not rows:
        v1 = "inconclusive: not testable in this run (no PPS method)" if baseline in chosen else f"inconclusive: no {base_label} runs"
    else:
        v1 = ", ".join(f"{row[0]}: {v}" for row, v in zip(rows, verdicts))
    out.append(f"| 1. \"10–30% average improvement over {base_label}\" | {v1} |")
    sec = [f"## 1. \"10–30% average improvement over {base_label}\"", "",
           f"Measured: the IQM final win rate pooled over every map both the method and {base_label} ran, "
           f"its difference to {base_label} in win-rate points and relative to {base_label}'s IQM, and the "
           f"probability of improvement averaged over maps.", ""]
    sec += [T.markdown(h, rows).rstrip()] if rows else ["No PPS method or no baseline in this run: nothing to compare."]
    sections.append("\n".join(sec))

    h, rows, (v2, why2) = claim_wins(stats, chosen, baseline)
    out.append(f"| 2. \"wins tasks {base_label} cannot\" | {v2}: {why2} |")
    sections.append(_section(
        f"2. \"Wins tasks {base_label} cannot\"",
        f"maps where {base_label} fails (IQM final win rate, upper 95% CI bound < {FAIL_LEVEL:.0%}) "
        f"and, there, each PPS method's IQM win rate (it *wins* with a lower bound ≥ {WIN_LEVEL:.0%}).",
        v2, why2, h, rows))

    h, rows, (v3, why3) = claim_rs_high_dim(final, chosen, high_dim, seed)
    out.append(f"| 3. \"RS-PPS strongest on high-dimensional maps\" | {v3}: {why3} |")
    sections.append(_section(
        "3. \"RS-PPS strongest on high-dimensional maps\"",
        f"on the high-dimensional maps of this run (counted as such: {', '.join(high_dim)}) that every "
        f"PPS method ran, the IQM final win rate of each PPS method, and RS-PPS minus the best of the others.",
        v3, why3, h, rows))

    out += ["", *["\n".join([s, ""]) for s in sections]]
    out += ["## How verdicts are decided", "", __doc__.split("\n\n", 2)[2].strip(), ""]
    return "\n".join(out).rstrip() + "\n"
