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
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
MEASURED_CSV = HERE / "calibration_measured.csv"
MEASURED_JSON = HERE / "calibration_measured.json"
CLAIM_TITLES = {"claim1": "claim 1", "claim2": "claim 2", "claim3": "claim 3"}
PUBLISHED = "published"  # the `rules` of a row judged by the rules as published (else: "no minimum")
# Per claim, the calibrated true effect whose power heads the claim's row in claims.md: the
# effect the paper's words imply (claim 1: a gain inside the claimed 10-30%; claim 2: a PPS
# method that learns a map QMIX never does; claim 3: RS-PPS clearly ahead of the others).
HEADLINE = {"claim1": "+25%, every PPS method",
            "claim2": "PPS learns 90% of seeds where QMIX never does",
            "claim3": "RS-PPS +25% over the other PPS methods"}
_SIZE = re.compile(r"^(\d+) seeds? × (\d+) maps?, (\d+) ep\.$")


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


# --------------------------------------------------------------------------- power at a design
@dataclass(frozen=True)
class DesignPower:
    """Claim `claim`'s calibrated power at the calibrated design nearest to (seeds, maps).

    `rows` are (scenario, size, true gain, power, its Monte Carlo SE) of every calibrated true
    effect at that design, headline first; `exact` says whether the calibrated design is the
    one asked for (else it is the nearest one, on a log scale of seeds and of maps)."""

    claim: str
    seeds: int
    maps: int
    calibrated_seeds: int
    calibrated_maps: int
    rows: tuple[tuple[str, str, float, float, float], ...]

    @property
    def exact(self) -> bool:
        return (self.seeds, self.maps) == (self.calibrated_seeds, self.calibrated_maps)

    @property
    def headline(self) -> tuple[str, str, float, float, float] | None:
        return self.rows[0] if self.rows and self.rows[0][0] == HEADLINE[self.claim] else None


def parse_size(size: str) -> tuple[int, int, int] | None:
    """'10 seeds × 3 maps, 32 ep.' -> (10, 3, 32); None for designs with uneven seed counts."""
    m = _SIZE.match(str(size))
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def design_power(claim: str, seeds: int, maps: int, table: pd.DataFrame | None = None) -> DesignPower | None:
    """The calibrated power of `claim` at `seeds` seeds per method and map on `maps` maps (the
    nearest calibrated design where that one was not simulated); None where nothing is measured."""
    if table is None:
        loaded = load()
        if loaded is None:
            return None
        table = loaded[1]
    if seeds < 1 or maps < 1:
        return None
    t = table[(table["rules"] == PUBLISHED) & table[f"{claim}_power"].notna()]
    sizes = {i: parse_size(s) for i, s in t["size"].items()}
    sizes = {i: v for i, v in sizes.items() if v is not None}
    if not sizes:
        return None

    def distance(v: tuple[int, int, int]) -> tuple[float, int]:
        return abs(math.log(v[0] / seeds)) + abs(math.log(v[1] / maps)), v[0]

    best = min(sizes.values(), key=distance)[:2]
    at = t.loc[[i for i, v in sizes.items() if v[:2] == best]]
    at = at.assign(_head=at["scenario"] != HEADLINE[claim]).sort_values(["_head", "true_gain"], kind="stable")
    rows = tuple((str(r["scenario"]), str(r["size"]), float(r["true_gain"]), float(r[f"{claim}_power"]),
                  float(r[f"{claim}_power_se"])) for _, r in at.iterrows())
    return DesignPower(claim, seeds, maps, best[0], best[1], rows)


def _design_text(p: DesignPower) -> str:
    asked = f"{p.seeds} seeds × {p.maps} map{'s' if p.maps != 1 else ''}"
    if p.exact:
        return asked
    return (f"{asked}; the nearest calibrated design is {p.calibrated_seeds} seeds × {p.calibrated_maps} "
            f"map{'s' if p.calibrated_maps != 1 else ''}")


def power_headline(p: DesignPower | None) -> str:
    """The power cell of claims.md's summary table."""
    if p is None or p.headline is None:
        return "not calibrated at this design"
    _, _, gain, power, _ = p.headline
    return f"{100 * power:.0f}% for \"{HEADLINE[p.claim]}\" ({_design_text(p)})"


def power_markdown(p: DesignPower | None, meta: dict | None = None) -> str:
    """The power paragraph of a claim's section: every calibrated true effect at this design."""
    if p is None:
        return "Power at this design: not calibrated (run `pps calibrate --write`)."
    lines = [f"Power at this design ({_design_text(p)}; `pps calibrate`, published rules): how often the verdict "
             f"says supported when the calibrated effect is true.", "",
             "| true effect (calibrated scenario) | true gain (claim 1's measure) | power |", "| :-- | --: | --: |"]
    for scenario, size, gain, power, se in p.rows:
        episodes = size.split(", ")[-1]
        lines.append(f"| {scenario} ({episodes}) | {100 * gain:+.1f}% | {rate_text(power, se, 0)} |")
    curve = (meta or {}).get("power") if p.claim == "claim1" else None
    if curve and p.maps == 3:
        for c in curve:
            by = {int(k): v for k, v in c["by_seeds"].items()}
            n = min(by, key=lambda k: abs(math.log(k / p.seeds)))
            lines.append(f"| +{100 * c['gain']:.0f}% on every map, seed-to-seed SD {c['sd']:.2f} ({n} seeds × 3 "
                         f"maps) | +{100 * c['gain']:.0f}% | {100 * by[n]:.0f}% |")
    return "\n".join(lines)
