"""Markdown and LaTeX (booktabs) renderings of the statistics and convergence tables.

The LaTeX tables are complete `table` environments that compile with `\\usepackage{booktabs}`
alone; numbers are formatted once here so the Markdown and LaTeX versions always agree (and
`claims.md` and the figures' notes format theirs with the same functions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from pps.analysis.data import scores
from pps.analysis.data.cells import CELL_COLUMNS, cell_label
from pps.analysis.stats.bootstrap import CI_METHOD, STRATIFIED_CI_METHOD
from pps.analysis.stats.estimators import iqm_small_n_note

DASH = "–"


# --------------------------------------------------------------------------- number formats
def finite(x) -> bool:
    try:
        return x is not None and x is not pd.NA and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def num(x, digits: int = 2) -> str:
    return f"{float(x):.{digits}f}" if finite(x) else DASH


DEGENERATE = "†"
DEGENERATE_FOOTNOTE = (f"{DEGENERATE} zero-width interval: every bootstrap resample gave the same value (all values "
                       f"equal, or complete separation at this n). It reflects too few seeds, not certainty.")


def degenerate_mark(lo, hi) -> str:
    """'†' after an interval of zero width, which would otherwise read as certainty."""
    return DEGENERATE if finite(lo) and finite(hi) and float(lo) == float(hi) else ""


def num_inf(x, digits: int = 2) -> str:
    """Like `num`, but ±inf prints as ∞ (bootstrap bounds of ratios can be unbounded)."""
    try:
        if math.isinf(float(x)):
            return "∞" if float(x) > 0 else "-∞"
    except (TypeError, ValueError):
        pass
    return num(x, digits)


def ci(point, lo, hi, digits: int = 2) -> str:
    """'0.50 [0.40, 0.60]'; a zero-width interval is marked with † (see DEGENERATE_FOOTNOTE)."""
    if not finite(point):
        return DASH
    if not (finite(lo) and finite(hi)):
        return num(point, digits)
    return f"{float(point):.{digits}f} [{float(lo):.{digits}f}, {float(hi):.{digits}f}]{degenerate_mark(lo, hi)}"


def pval(p) -> str:
    if not finite(p):
        return DASH
    p = float(p)
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def steps(x) -> str:
    """45000 -> '45k', 2500 -> '2.5k', 1_250_000 -> '1.25M' (no rounding that would merge ticks)."""
    if not finite(x):
        return DASH
    x = float(x)
    if abs(x) >= 1e6:
        return f"{x / 1e6:.3g}M"
    if abs(x) >= 1e3:
        return f"{x / 1e3:.3g}k"
    return f"{x:.0f}"


def pct(x, digits: int = 0) -> str:
    return f"{100 * float(x):+.{digits}f}%" if finite(x) else DASH


def pct_inf(x, digits: int = 0) -> str:
    """Like `pct`, with +inf as '+∞%' (a relative improvement over an IQM of 0)."""
    try:
        if math.isinf(float(x)):
            return "+∞%" if float(x) > 0 else "-∞%"
    except (TypeError, ValueError):
        pass
    return pct(x, digits)


# --------------------------------------------------------------------------- renderers
def markdown(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    """A GitHub pipe table; `align` is one of l/r/c per column."""
    align = align or "l" * len(headers)
    cells = [list(map(str, headers))] + [[str(c).replace("|", "\\|") for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    rule = {"l": ":{}", "r": "{}:", "c": ":{}:"}
    seps = [rule[a].format("-" * max(1, w - (2 if a == "c" else 1))) for a, w in zip(align, widths)]

    def line(r):
        return "| " + " | ".join(c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(r, widths, align)) + " |"

    return "\n".join([line(cells[0]), "| " + " | ".join(seps) + " |"] + [line(r) for r in cells[1:]]) + "\n"


_TEX_ESCAPE = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
               "<": r"$<$", ">": r"$>$", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
               "\\": r"\textbackslash{}"}


def tex_escape(s: str) -> str:
    s = "".join(_TEX_ESCAPE.get(ch, ch) for ch in str(s))
    return (s.replace(DASH, "--").replace("≥", r"$\geq$").replace("≤", r"$\leq$")
            .replace("Δ", r"$\Delta$").replace("×", r"$\times$").replace(DEGENERATE, r"$^{\dagger}$")
            .replace("∞", r"$\infty$"))


def latex(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str, caption: str, label: str,
          groups: Sequence[tuple[str, int]] | None = None, breaks: Sequence[int] = ()) -> str:
    """A booktabs `table`; `groups` = [(title, n_columns), ...] for a spanning header row,
    `breaks` = row indices before which an \\addlinespace separates groups of rows."""
    out = [r"% requires \usepackage{booktabs}; use table* for a two-column layout", r"\begin{table}[t]",
           r"\centering", r"\small",
           r"\caption{" + tex_escape(caption) + "}", r"\label{" + label + "}",
           r"\begin{tabular}{" + align + "}", r"\toprule"]
    if groups:
        cells, rules, col = [], [], 1
        for title, span in groups:
            spanning = title and span > 1
            cells.append(rf"\multicolumn{{{span}}}{{c}}{{{tex_escape(title)}}}" if spanning else tex_escape(title))
            if title:
                rules.append(rf"\cmidrule(lr){{{col}-{col + span - 1}}}")
            col += span
        out.append(" & ".join(cells) + r" \\")
        out.append(" ".join(rules))
    out.append(" & ".join(tex_escape(h) for h in headers) + r" \\")
    out.append(r"\midrule")
    for i, r in enumerate(rows):
        if i in breaks:
            out.append(r"\addlinespace")
        out.append(" & ".join(tex_escape(c) for c in r) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- the tables
def _map_name(env, map_, envs) -> str:
    return map_ if len(envs) <= 1 else f"{env}/{map_}"


def _n_range(ns) -> str:
    ns = [int(n) for n in ns if finite(n)]
    if not ns:
        return "n = 0"
    return f"n = {min(ns)}" if min(ns) == max(ns) else f"n = {min(ns)}–{max(ns)}"


def stats_rows(stats: pd.DataFrame, baseline_label: str):
    headers = ["Map", "Method", "n", "IQM [95% CI]", "Mean", f"Δ mean vs {baseline_label} [95% CI]",
               "p Welch (FDR)", "p MWU (FDR)", "Hedges g", f"P(> {baseline_label}) [95% CI]"]
    envs = set(stats["env"])
    rows, breaks, last = [], [], None
    for r in stats.itertuples(index=False):
        m = _map_name(r.env, r.map, envs)
        if m != last and rows:
            breaks.append(len(rows))
        rows.append([
            m if m != last else "", cell_label(r.method, r.interval), str(int(r.n)),
            ci(r.iqm, r.iqm_ci_low, r.iqm_ci_high), num(r.mean),
            (ci(r.diff, r.diff_ci_low, r.diff_ci_high) if finite(r.diff)
             else ("ref." if r.method == r.baseline else DASH)),
            f"{pval(r.welch_p)} ({pval(r.welch_p_fdr)})" if finite(r.welch_p) else DASH,
            f"{pval(r.mannwhitney_p)} ({pval(r.mannwhitney_p_fdr)})" if finite(r.mannwhitney_p) else DASH,
            num(r.hedges_g), ci(r.prob_improvement, r.pi_ci_low, r.pi_ci_high),
        ])
        last = m
    return headers, rows, breaks


def _has_degenerate(rows) -> bool:
    return any(DEGENERATE in str(c) for r in rows for c in r)


def stats_caption(stats: pd.DataFrame, baseline_label: str, final_window: str = "last evaluations",
                  degenerate: bool = False) -> str:
    small_n = iqm_small_n_note(stats["n"])
    kinds = scores.task_kinds(stats).values()
    what = "Final test win rate" if scores.bounded(kinds) else "Final score"
    score_note = "" if scores.bounded(kinds) else f" {scores.describe(kinds)}"
    return (
        f"{what} ({final_window} of each run) per map and method, {_n_range(stats['n'])} seeds.{score_note} "
        f"IQM = interquartile mean; CIs: {CI_METHOD}. Against {baseline_label} on the same map: difference of means, "
        f"Welch t and exact (tie-aware permutation) Mann-Whitney U p-values with Benjamini-Hochberg FDR-adjusted "
        f"values in brackets (family: every comparison in this table, per test), "
        f"Hedges' g, and the probability of improvement P(X > Y) + P(X = Y)/2."
        + (f" {small_n}" if small_n else "") + (f" {DEGENERATE_FOOTNOTE}" if degenerate else "")
    )


def stats_markdown(stats: pd.DataFrame, baseline_label: str, final_window: str) -> str:
    headers, rows, _ = stats_rows(stats, baseline_label)
    caption = stats_caption(stats, baseline_label, final_window, _has_degenerate(rows))
    text = "# Final performance\n\n" + caption + "\n\n"
    notes = [f"- {cell_label(r.method, r.interval)} on {r.map}: {r.note}"
             for r in stats.itertuples() if isinstance(r.note, str) and r.note]
    return text + markdown(headers, rows, "llrlrlllrl") + ("\nNotes:\n\n" + "\n".join(notes) + "\n" if notes else "")


def stats_latex(stats: pd.DataFrame, baseline_label: str, final_window: str) -> str:
    headers, rows, breaks = stats_rows(stats, baseline_label)
    return latex(headers, rows, "llrlrlllrl", stats_caption(stats, baseline_label, final_window, _has_degenerate(rows)),
                 "tab:pps-final", breaks=breaks)


def convergence_rows(speed: pd.DataFrame, baseline_label: str):
    thresholds = sorted(set(speed["threshold"]))
    envs = set(speed["env"])
    headers = ["Map", "Method", "n"]
    for _ in thresholds:
        headers += ["reached", "median steps", f"speed-up vs {baseline_label} [95% CI]"]
    headers.append("AUC (IQM)")
    word = scores.short(scores.task_kinds(speed).values())
    groups = [("", 3)] + [(f"{word} ≥ {t:g}", 3) for t in thresholds] + [("", 1)]
    rows, breaks, last = [], [], None
    for (env, map_, method, interval), g in speed.groupby(CELL_COLUMNS, dropna=False, sort=False):
        g = g.set_index("threshold")
        m = _map_name(env, map_, envs)
        if m != last and rows:
            breaks.append(len(rows))
        first = g.iloc[0]
        row = [m if m != last else "", cell_label(method, interval), str(int(first["n"]))]
        for t in thresholds:
            if t not in g.index:
                row += [DASH, DASH, DASH]
                continue
            r = g.loc[t]
            med = steps(r["median_steps"])
            med = f"> {med}" if bool(r["median_censored"]) else med
            if method == r["baseline"]:
                sp = "ref."
            elif r["bound"] == "none" or not finite(r["speedup"]):
                sp = DASH
            else:
                prefix = {"lower": "≥ ", "upper": "≤ "}.get(r["bound"], "")
                sp = f"{prefix}{num(r['speedup'])}×"
                lo, hi = r["speedup_ci_low"], r["speedup_ci_high"]
                if not (pd.isna(lo) or pd.isna(hi)):  # bounds may be 0 or ∞ (censored resamples)
                    sp += f" [{num_inf(lo)}, {num_inf(hi)}]{degenerate_mark(lo, hi)}"
            row += [f"{int(r['n_reached'])}/{int(r['n'])}", med, sp]
        row.append(num(first["norm_auc_iqm"]))
        rows.append(row)
        last = m
    align = "llr" + "rrl" * len(thresholds) + "r"
    return headers, rows, breaks, groups, align


def convergence_caption(speed: pd.DataFrame, baseline_label: str, smooth_window: int, degenerate: bool = False) -> str:
    kinds = scores.task_kinds(speed).values()
    word = scores.short(kinds)
    what = "a test win rate" if word == "win rate" else "a score"
    score_note = "" if word == "win rate" else f" {scores.describe(kinds)}"
    return (
        f"Steps to reach {what}, per map and method ({_n_range(speed['n'])} seeds).{score_note} The {word} is "
        f"smoothed by a trailing mean over {smooth_window} evaluations on the common step grid; 'reached' counts "
        f"the seeds that get there. Median steps = the Kaplan-Meier median: a run that never gets there is "
        f"censored at its last step (it would cross later, if ever), whatever its length; '> x' marks a median "
        f"known only to be later than x, and ≥/≤ speed-ups are then bounds. Speed-up = median steps of "
        f"{baseline_label} / median steps of the method ({CI_METHOD}, seeds resampled within each method; a "
        f"resample whose median is never reached counts as infinitely slow, so a bound can be 0 or ∞). AUC = the "
        f"area under the unsmoothed {word.replace(' ', '-')} curve divided by the run's length (the average {word} "
        f"over training), IQM over seeds."
        + (f" {iqm_small_n_note(speed['n'])}" if iqm_small_n_note(speed["n"]) else "")
        + (f" {DEGENERATE_FOOTNOTE}" if degenerate else "")
    )


def convergence_markdown(speed: pd.DataFrame, baseline_label: str, smooth_window: int) -> str:
    headers, rows, _, groups, align = convergence_rows(speed, baseline_label)
    # Markdown has no spanning headers: put the threshold into each column name
    named, i = [], 0
    for title, span in groups:
        for h in headers[i:i + span]:
            named.append(f"{h} ({title})" if title else h)
        i += span
    caption = convergence_caption(speed, baseline_label, smooth_window, _has_degenerate(rows))
    return "# Convergence\n\n" + caption + "\n\n" + markdown(named, rows, align)


def convergence_latex(speed: pd.DataFrame, baseline_label: str, smooth_window: int) -> str:
    headers, rows, breaks, groups, align = convergence_rows(speed, baseline_label)
    return latex(headers, rows, align, convergence_caption(speed, baseline_label, smooth_window, _has_degenerate(rows)),
                 "tab:pps-convergence",
                 groups=groups, breaks=breaks)


# --------------------------------------------------------------------------- across maps
_POOL_NAMES = {"all": "all", scores.WIN_RATE: "win condition", scores.NORMALISED_RETURN: "normalised return"}


def across_maps_rows(across: pd.DataFrame):
    """The four across-map estimates of Agarwal et al. (2021) per pool of tasks and cell of across_maps.csv."""
    headers = ["Tasks", "Method", "maps", "runs", "Median [95% CI]", "IQM [95% CI]", "Mean [95% CI]",
               "Optimality gap [95% CI]"]
    rows, breaks, last = [], [], None
    for r in across.itertuples(index=False):
        tasks = _POOL_NAMES.get(r.tasks, str(r.tasks))
        if tasks != last and rows:
            breaks.append(len(rows))
        rows.append([
            tasks if tasks != last else "", cell_label(r.method, r.interval), f"{int(r.n_maps)}/{int(r.n_total_maps)}",
            str(int(r.n_runs)), ci(r.median, r.median_ci_low, r.median_ci_high), ci(r.iqm, r.iqm_ci_low, r.iqm_ci_high),
            ci(r.mean, r.mean_ci_low, r.mean_ci_high),
            ci(r.optimality_gap, r.optimality_gap_ci_low, r.optimality_gap_ci_high),
        ])
        last = tasks
    return headers, rows, breaks


def across_maps_caption(across: pd.DataFrame, degenerate: bool = False) -> str:
    kinds = [k for k in across["score_kind"].dropna().unique() if k in scores.KINDS] if "score_kind" in across \
        else [scores.WIN_RATE]
    families = " Rows 'all' pool every task; the others pool one score family." if across["tasks"].nunique() > 1 \
        else ""
    return (
        f"Final score across maps, per method and interval: each run's final score pooled over the maps it ran "
        f"(maps: of the pool's maps, how many the cell ran; runs: seeds × maps).{families} Median = the median "
        f"over maps of each map's mean score; IQM = interquartile mean of all runs; mean of all runs; optimality "
        f"gap = the mean of max(1 − score, 0), how far runs fall short of a perfect score (lower is better; a "
        f"score above 1 earns nothing). CIs: {STRATIFIED_CI_METHOD}, runs resampled within each map, the same "
        f"resamples for all four (Agarwal et al. 2021). {scores.describe(kinds)}"
        + (f" {DEGENERATE_FOOTNOTE}" if degenerate else "")
    )


def across_maps_markdown(across: pd.DataFrame) -> str:
    headers, rows, _ = across_maps_rows(across)
    caption = across_maps_caption(across, _has_degenerate(rows))
    return "# Across maps\n\n" + caption + "\n\n" + markdown(headers, rows, "llrrllll")


def across_maps_latex(across: pd.DataFrame) -> str:
    headers, rows, breaks = across_maps_rows(across)
    return latex(headers, rows, "llrrllll", across_maps_caption(across, _has_degenerate(rows)), "tab:pps-across-maps",
                 breaks=breaks)


# --------------------------------------------------------------------------- pps compare
def compare_markdown(table: pd.DataFrame, names: tuple[str, str], differing: dict[str, tuple[list[str], list[str]]],
                     unmatched: Sequence[str], final_window: int, alpha: float) -> str:
    """`compare.md`: what differs between the sides, the verdict per cell, and the table."""
    a, b = names
    out = [f"# {a} against {b}\n"]
    if differing:
        out.append(f"**What differs** in run.json between {a}'s runs and {b}'s (values only one side has):\n")
        out += [f"- `{k}`: {'; '.join(va) or '–'} → {'; '.join(vb) or '–'}" for k, (va, vb) in differing.items()]
        out.append("")
    else:
        out.append("**What differs**: nothing in run.json besides per-run values (seeds, timings).\n")
    if unmatched:
        out.append("Cells trained on one side only (left out): " + "; ".join(unmatched) + ".\n")
    cells = table.drop_duplicates(CELL_COLUMNS)
    for r in cells.itertuples(index=False):
        label = f"{r.map}, {r.method}" + ("" if pd.isna(r.interval) else f" (K={int(r.interval)})")
        runs = "run" if int(r.n_a) == 1 else "runs"
        out.append(f"- **{label}: {r.verdict}** ({int(r.n_a)} {runs} of {a}, {int(r.n_b)} of {b}).")
    out.append("")
    headers = ["map", "method", "measure", a, b, f"{b} − {a} [95% CI]", "perm. p", "MW p", "smallest p",
               "detectable", "verdict"]
    rows = []
    for r in table.itertuples(index=False):
        rows.append([r.map, r.method + ("" if pd.isna(r.interval) else f" K={int(r.interval)}"), r.measure,
                     num(r.mean_a), num(r.mean_b), ci(r.diff, r.diff_ci_low, r.diff_ci_high),
                     pval(r.permutation_p_adj), pval(r.mannwhitney_p_adj), pval(r.smallest_p), num(r.detectable),
                     r.verdict])
    out.append(markdown(headers, rows, "lllrrrrrrrl"))
    out.append(
        f"Score: the task's score (win rate, or return normalised so that a random policy is 0 and the reference 1). "
        f"`final`: mean of each run's last {final_window} evaluations up to the step every run of the cell reaches; "
        f"`auc`: normalised area under the score curve over the steps every run of the cell spans. Means over "
        f"runs; the difference's CI is a percentile bootstrap (runs resampled on each side), which is too narrow "
        f"at 3-5 runs a side. p-values: the studentized permutation test of the mean difference and the exact "
        f"Mann-Whitney test, both two-sided, Benjamini-Hochberg adjusted over the whole table; a cell differs "
        f"when any adjusted p < {alpha:g}. `smallest p`: the smallest p these run counts can give (3 runs a side "
        f"cannot reach 0.05). `detectable`: the difference a Welch test at {alpha:g} / (the table's number of "
        f"p-values) finds with 80% power at the observed spreads. \"No difference detected\" is evidence "
        f"against differences of `detectable` or more, not against smaller ones.\n")
    return "\n".join(out)
