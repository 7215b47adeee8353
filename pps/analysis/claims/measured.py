"""The measured calibration of the verdict rules, as data, and its Markdown rendering.

`pps calibrate --write` (`pps.analysis.claims.calibrate`) measures every scenario and stores
the table as `calibration_measured.csv` (one row per scenario) with its settings in
`calibration_measured.json`, package data next to this module; `claims.md` and the README
quote the rendering of those files.
Numbers live in data files, not in generated code, so a re-measurement is a data change that
a diff shows row by row.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
MEASURED_CSV = HERE / "calibration_measured.csv"
MEASURED_JSON = HERE / "calibration_measured.json"
CLAIM_TITLES = {"claim1": "claim 1", "claim2": "claim 2", "claim3": "claim 3"}
PUBLISHED = "published"  # the `rules` of a row judged by the rules as published (else: "no minimum")


def load() -> tuple[dict, pd.DataFrame] | None:
    """(settings, table), or None where the calibration has not been measured."""
    if not (MEASURED_CSV.is_file() and MEASURED_JSON.is_file()):
        return None
    return json.loads(MEASURED_JSON.read_text()), pd.read_csv(MEASURED_CSV)


def _finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def rate_text(rate, se, digits: int = 1) -> str:
    """'1.2% ± 0.3' (rate in percent ± its Monte Carlo standard error), or '–' where not applicable."""
    if not _finite(rate):
        return "–"
    return f"{100 * float(rate):.{digits}f}% ± {100 * float(se):.{digits}f}"


def _cell(row: pd.Series, claim: str) -> str:
    """One claim's cell: the wrong-verdict rate its truth makes meaningful, and power where the claim is true."""
    parts = []
    if _finite(row.get(f"{claim}_false_supported")):
        parts.append(f"FS {rate_text(row[f'{claim}_false_supported'], row[f'{claim}_false_supported_se'])}")
    if _finite(row.get(f"{claim}_false_not_supported")):
        parts.append(f"FN {rate_text(row[f'{claim}_false_not_supported'], row[f'{claim}_false_not_supported_se'])}")
        parts.append(f"power {100 * float(row[f'{claim}_power']):.0f}%")
    if _finite(row.get(f"{claim}_given")) and float(row[f"{claim}_given"]) < 1:
        parts.append(f"verdict in {100 * float(row[f'{claim}_given']):.0f}%")
    return "; ".join(parts) or "–"


def table_markdown(table: pd.DataFrame) -> str:
    lines = ["| family | scenario | size | true gain | claim 1 | claim 2 | claim 3 |",
             "| :-- | :-- | :-- | --: | :-- | :-- | :-- |"]
    for _, row in table.iterrows():
        name = row["scenario"] + ("" if row["rules"] == PUBLISHED else " (no minimum of seeds)")
        lines.append(f"| {row['family']} | {name} | {row['size']} | {100 * float(row['true_gain']):+.1f}% | "
                     + " | ".join(_cell(row, c) for c in CLAIM_TITLES) + " |")
    return "\n".join(lines)


def worst(table: pd.DataFrame, column: str, published_only: bool = True) -> tuple[float, float, str]:
    """(largest rate, its MC SE, scenario text) of `column` over rows judged by the published rules."""
    t = table[table["rules"] == PUBLISHED] if published_only else table
    t = t[t[column].notna()]
    if t.empty:
        return math.nan, math.nan, ""
    row = t.loc[t[column].idxmax()]
    return float(row[column]), float(row[f"{column}_se"]), f"{row['scenario']}, {row['size']}"


def family_markdown(table: pd.DataFrame) -> str:
    """The table condensed to one row per family: the largest false "supported" (FS) and false
    "not supported" (FN) of each claim over the family's scenarios (the README quotes it)."""
    lines = ["| family (scenarios) | claim 1 FS | claim 1 FN | claim 2 FS | claim 2 FN | claim 3 FS | claim 3 FN |",
             "| :-- | --: | --: | --: | --: | --: | --: |"]
    groups = [(fam, g[g["rules"] == PUBLISHED]) for fam, g in table.groupby("family", sort=False)]
    groups.append(("below the minimum of seeds and runs, rules applied anyway", table[table["rules"] != PUBLISHED]))
    for fam, g in groups:
        if g.empty:
            continue
        cells = []
        for claim in CLAIM_TITLES:
            for kind in ("false_supported", "false_not_supported"):
                col = g[f"{claim}_{kind}"]
                cells.append("–" if col.dropna().empty else rate_text(*_max_with_se(g, f"{claim}_{kind}")))
        lines.append(f"| {fam} ({len(g)}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _max_with_se(g: pd.DataFrame, column: str) -> tuple[float, float]:
    row = g.loc[g[column].idxmax()]
    return float(row[column]), float(row[f"{column}_se"])


def _worst_text(w: tuple[float, float, str]) -> str:
    return f"{rate_text(w[0], w[1], 2)} ({w[2]})" if w[2] else "– (no such scenario)"


def summary_markdown(meta: dict, table: pd.DataFrame) -> str:
    """The acceptance numbers: worst false rates per claim over the published rules, and power."""
    lines = []
    for claim, title in CLAIM_TITLES.items():
        fs = worst(table, f"{claim}_false_supported")
        fn = worst(table, f"{claim}_false_not_supported")
        lines.append(f"- {title}: largest false \"supported\" {_worst_text(fs)}; largest false \"not supported\" "
                     f"{_worst_text(fn)}")
    power = meta.get("power")
    if power:
        for p in power:
            lines.append(f"- claim 1 power at a true +{100 * p['gain']:.0f}% per PPS method, 3 maps, seed-to-seed SD "
                         f"{p['sd']:.2f}: " + ", ".join(f"{n} seeds {100 * v:.0f}%" for n, v in p["by_seeds"].items())
                         + (f"; 80% needs about {p['n80']} seeds" if p.get("n80") else "; 80% not reached"))
    return "\n".join(lines)


def measured_markdown() -> str:
    """The calibration as `claims.md` and the README print it."""
    loaded = load()
    if loaded is None:
        return "Calibration: not measured yet (run `pps calibrate --write`)."
    meta, table = loaded
    head = (f"**Measured error rates** (`pps calibrate`, {meta['date']}: "
            f"{meta['trials']} simulated grids per scenario, {meta['resamples']} Monte Carlo relabellings per test, "
            f"{meta['minutes']:.0f} min of wall-clock in one process). Each grid is QMIX and three PPS methods, "
            f"judged by the "
            f"functions that write this file. FS = false \"supported\" (claim 1: any of the three PPS methods "
            f"whose true average gain is at most +10%), FN = false \"not supported\" where the claim is true, "
            f"with ± one Monte Carlo standard error; power = \"supported\" where the claim is true (claim 1: "
            f"per PPS method); claim 3 is judged on every map of the grid. Rows marked \"no minimum of "
            f"seeds\" apply the rules below their minimum of seeds and runs, where the published rules give no "
            f"verdict: they show why the minimum is there.")
    return "\n\n".join([head, table_markdown(table), "Summary:", summary_markdown(meta, table)])
