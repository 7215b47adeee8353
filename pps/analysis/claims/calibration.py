"""How often the published verdict rules are wrong on grids whose truth is known.

Each scenario of `pps.analysis.claims.scenarios` is drawn `trials` times and every grid is
judged by the functions that write `claims.md` (`pps.analysis.claims.rules.judge_*`), with
the published rules. Per claim, a scenario yields whichever of these its truth makes meaningful:

- false "supported": the claim is false in the scenario and the verdict says supported
  (claim 1: any of the three PPS methods whose true average gain is at most the 10% margin);
- false "not supported": the claim is true and the verdict says not supported;
- power: the claim is true and the verdict says supported (claim 1: per PPS method);
- verdicts given: the share of grids judged at all (not "inconclusive at this n").

Every rate comes with its Monte Carlo standard error, sqrt(r (1 - r) / trials), and a
one-sided 95% Clopper-Pearson upper bound (what a rate of 0 of N can still hide).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import stats as sps

from pps.analysis.claims.rules import judge_improvement, judge_strongest, judge_wins
from pps.analysis.claims.scenarios import PPS, Scenario, draw, truths
from pps.analysis.claims.verdicts import NOT_SUPPORTED, RULES, SUPPORTING, TOO_FEW, ClaimRules
from pps.analysis.stats.permtests import PermutationConfig

CLAIMS = ("claim1", "claim2", "claim3")
CALIBRATION_RESAMPLES = 999  # Monte Carlo relabellings per test here (claims.md: 9,999); p stays valid


@dataclass
class Count:
    """Events out of the grids where they could happen."""

    hits: int = 0
    of: int = 0

    def add(self, hit: bool) -> None:
        self.hits += bool(hit)
        self.of += 1

    def rate(self) -> float:
        return self.hits / self.of if self.of else np.nan

    def se(self) -> float:
        r = self.rate()
        return float(np.sqrt(r * (1 - r) / self.of)) if self.of else np.nan

    def upper(self) -> float:
        """One-sided 95% Clopper-Pearson upper bound."""
        if not self.of:
            return np.nan
        return 1.0 if self.hits == self.of else float(sps.beta.ppf(0.95, self.hits + 1, self.of - self.hits))


@dataclass
class ClaimCounts:
    false_supported: Count = field(default_factory=Count)
    false_not_supported: Count = field(default_factory=Count)
    power: Count = field(default_factory=Count)
    given: Count = field(default_factory=Count)


def judge_grid(scores: dict[str, list[np.ndarray]], rng: np.random.Generator, rules: ClaimRules) -> dict:
    """Every claim's verdicts on one simulated grid (claim 1 per PPS method; claim 3 on all maps)."""
    base = scores["qmix"]
    maps = [("sim", f"map{j}") for j in range(len(base))]
    claim1 = {m: judge_improvement(scores[m], base, len(PPS), rng, rules=rules, detail=False).verdict for m in PPS}
    claim2 = judge_wins(dict(zip(maps, base)), {m: dict(zip(maps, scores[m])) for m in PPS}, rules=rules).verdict
    claim3 = judge_strongest({m: scores[m] for m in PPS}, rng, rules=rules, detail=False).verdict
    return {"claim1": claim1, "claim2": claim2, "claim3": claim3}


def simulate(scenario: Scenario, trials: int, seed: int = 0, resamples: int = CALIBRATION_RESAMPLES,
             rules: ClaimRules = RULES) -> dict[str, ClaimCounts]:
    """Count wrong verdicts, power and verdicts given over `trials` grids of `scenario`."""
    rules = replace(scenario.rules(rules), permutation=PermutationConfig(resamples=resamples))
    truth = truths(scenario, rules)
    margin = rules.margin + 0.005  # a scenario built at the margin stays a null (see `truths`)
    name = f"{scenario.family}/{scenario.name}/{scenario.size_text()}"
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    out = {c: ClaimCounts() for c in CLAIMS}
    for _ in range(trials):
        v = judge_grid(draw(scenario, rng), rng, rules)
        c = out["claim1"]
        nulls = [m for m in PPS if truth.gain[m] <= margin]
        alts = [m for m in PPS if truth.gain[m] > margin]
        c.given.add(any(v["claim1"][m] != TOO_FEW for m in PPS))
        if nulls:
            c.false_supported.add(any(v["claim1"][m] in SUPPORTING for m in nulls))
        if alts:
            c.false_not_supported.add(any(v["claim1"][m] == NOT_SUPPORTED for m in alts))
            for m in alts:
                c.power.add(v["claim1"][m] in SUPPORTING)
        for claim, true in (("claim2", truth.wins), ("claim3", truth.strongest)):
            c = out[claim]
            c.given.add(v[claim] != TOO_FEW)
            if true:
                c.false_not_supported.add(v[claim] == NOT_SUPPORTED)
                c.power.add(v[claim] in SUPPORTING)
            else:
                c.false_supported.add(v[claim] in SUPPORTING)
    return out


def table_row(scenario: Scenario, counts: dict[str, ClaimCounts], trials: int, seconds: float,
              rules: ClaimRules = RULES) -> dict:
    """One row of the calibration table (flat, for CSV)."""
    truth = truths(scenario, rules)
    row = {
        "family": scenario.family, "scenario": scenario.name, "size": scenario.size_text(),
        "rules": "no minimum" if scenario.ungated else "published",
        "trials": trials, "seconds": round(seconds, 1),
        "true_gain": round(float(np.mean(list(truth.gain.values()))), 4),
        "true_wins": truth.wins, "true_strongest": truth.strongest,
    }
    for claim, c in counts.items():
        for name in ("false_supported", "false_not_supported", "power", "given"):
            k: Count = getattr(c, name)
            row[f"{claim}_{name}"] = round(k.rate(), 5) if k.of else None
            row[f"{claim}_{name}_se"] = round(k.se(), 5) if k.of else None
            if name != "given":
                row[f"{claim}_{name}_upper"] = round(k.upper(), 5) if k.of else None
    return row
