"""How often the claim verdicts say "supported" on noise, and how often they find a real effect.

A verdict table is only worth reading if "supported" is rare when nothing differs. This
module simulates grids of final win rates whose truth is known and runs them through the
same judging functions that write `claims.md` (`pps.analysis.claims.judge_*`):

- **null grids**: on every map, QMIX and the three PPS methods draw their runs from *one*
  distribution, so every "supported" is a false alarm. Two nulls:
  `unimodal` (a run's true win rate ~ Beta with a map-specific mean in [0.05, 0.95]) and
  `bimodal` (a run learns with a map-specific probability in [0.1, 0.9] and then wins at a
  Beta-distributed rate, or fails and wins almost never): the learn/fail pattern of MARL
  seeds, which puts whole samples at 0 and makes "QMIX fails, PPS wins" easy to see by chance;
- **an effect grid** for power: every PPS method's true win rate is 1.2 x a QMIX-distributed
  one (a true +20% on every quantile, so on the IQM), 10 seeds on 3 maps.

A final score is what `final.csv` holds: the win rate of `episodes` evaluation episodes
(binomial given the run's true rate), so scores tie as real ones do (0, 1, k/episodes).

`benchmarks/calibrate_claims.py` runs the full calibration and writes the measured rates into
`pps/analysis/calibration_measured.py`, which `claims.md` prints under its rules;
`tests/test_claims_calibration.py` runs a reduced version of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

from pps.analysis.claims import SUPPORTED, judge_improvement, judge_rs, judge_wins
from pps.analysis.stats import N_RESAMPLES, bootstrap_ci, iqm

PPS = ("a-pps", "rs-pps", "pp-pps")
NULLS = ("unimodal", "bimodal")


@dataclass(frozen=True)
class Grid:
    """The shape of a grid: maps x seeds, how many maps are high-dimensional, and the number
    of evaluation episodes behind one final score (eval_episodes x final_window)."""

    name: str
    maps: int
    seeds: int
    high_dim: int
    episodes: int


GRIDS: dict[str, Grid] = {
    # workflow/config/default.yaml: 3m (not high-dimensional), seeds 0-2, 16 episodes x 3 evaluations
    "default": Grid("default", maps=1, seeds=3, high_dim=0, episodes=48),
    # workflow/config/paper.yaml: 8m, 3s_vs_5z, 2s3z, MMM2, corridor (3 high-dimensional), seeds 0-4, 32 x 3
    "paper": Grid("paper", maps=5, seeds=5, high_dim=3, episodes=96),
}
POWER_GRID = Grid("power", maps=3, seeds=10, high_dim=0, episodes=96)
POWER_EFFECT = 0.20
POWER_BASE_MEANS = (0.40, 0.55, 0.70)  # QMIX's per-map mean of the Beta below, before scaling
POWER_SCALE = 0.75  # QMIX's true win rates = 0.75 x Beta, so PPS's = 0.9 x Beta stays <= 1
CONCENTRATION = 8.0  # Beta(mu k, (1 - mu) k): seed-to-seed spread of a run's true win rate
# Power is a property of the seed-to-seed spread: reported for a moderate spread (k = 20: SD of
# QMIX's final scores about 0.09) and a wide one (k = 8: about 0.13).
POWER_CONCENTRATIONS = (20.0, 8.0)

Scores = dict[str, list[np.ndarray]]  # method -> one array of final scores per map


def _beta(rng: np.random.Generator, mean, size, concentration: float = CONCENTRATION) -> np.ndarray:
    mean = np.clip(mean, 1e-3, 1 - 1e-3)
    return rng.beta(mean * concentration, (1 - mean) * concentration, size)


def _observe(rng: np.random.Generator, theta: np.ndarray, episodes: int) -> np.ndarray:
    return rng.binomial(episodes, np.clip(theta, 0, 1)) / episodes


def draw_null(grid: Grid, kind: str, rng: np.random.Generator) -> Scores:
    """Every method's runs from one distribution per map (see the module docstring)."""
    methods = ("qmix", *PPS)
    out: Scores = {m: [] for m in methods}
    for _ in range(grid.maps):
        if kind == "unimodal":
            mean = rng.uniform(0.05, 0.95)
            theta = _beta(rng, mean, (len(methods), grid.seeds))
        elif kind == "bimodal":
            p_learn, mean = rng.uniform(0.1, 0.9), rng.uniform(0.4, 0.95)
            learns = rng.random((len(methods), grid.seeds)) < p_learn
            theta = np.where(learns, _beta(rng, mean, (len(methods), grid.seeds)),
                             rng.beta(0.2, 20.0, (len(methods), grid.seeds)))
        else:
            raise ValueError(f"unknown null {kind!r}; one of {NULLS}")
        for m, t in zip(methods, theta):
            out[m].append(_observe(rng, t, grid.episodes))
    return out


def draw_effect(grid: Grid, rng: np.random.Generator, effect: float = POWER_EFFECT,
                means: tuple[float, ...] = POWER_BASE_MEANS, concentration: float = POWER_CONCENTRATIONS[0]) -> Scores:
    """QMIX: POWER_SCALE x Beta(mean_j); every PPS method: (1 + effect) x an independent such draw."""
    out: Scores = {m: [] for m in ("qmix", *PPS)}
    for j in range(grid.maps):
        mean = means[j % len(means)]
        draw = lambda: POWER_SCALE * _beta(rng, mean, grid.seeds, concentration)  # noqa: E731
        out["qmix"].append(_observe(rng, draw(), grid.episodes))
        for m in PPS:
            out[m].append(_observe(rng, (1 + effect) * draw(), grid.episodes))
    return out


def judge_grid(scores: Scores, grid: Grid, rng: np.random.Generator, n_resamples: int = N_RESAMPLES,
               lazy: bool = True) -> dict[str, object]:
    """The three claims' verdicts on one simulated grid, through the functions claims.md uses."""
    maps = [("smax", f"map{j}") for j in range(grid.maps)]
    base = scores["qmix"]
    claim1 = {m: judge_improvement(scores[m], base, len(PPS), rng, n_resamples=n_resamples, lazy=lazy).verdict
              for m in PPS}

    def iqm_ci(_key, _method, values):
        lo, hi, _ = bootstrap_ci(values, iqm, rng, n_resamples)
        return float(iqm(values)), lo, hi

    wins = judge_wins(dict(zip(maps, base)), {m: dict(zip(maps, scores[m])) for m in PPS}, iqm_ci, lazy=lazy)
    claim3 = None
    if grid.high_dim:
        high = slice(0, grid.high_dim)
        claim3 = judge_rs({m: scores[m][high] for m in PPS}, rng, n_resamples=n_resamples, lazy=lazy).verdict
    return {"claim1": claim1, "claim2": wins.verdict, "claim3": claim3}


@dataclass
class Rates:
    """How many of `trials` grids each claim called "supported"."""

    grid: str
    scenario: str
    trials: int
    claim1_any: int = 0
    claim1: dict[str, int] = field(default_factory=lambda: {m: 0 for m in PPS})
    claim2: int = 0
    claim3: int | None = None

    def rate(self, count: int | None) -> float:
        return np.nan if count is None else count / self.trials

    def upper(self, count: int | None) -> float:
        """One-sided 95% Clopper-Pearson upper bound of the rate."""
        if count is None:
            return np.nan
        return 1.0 if count == self.trials else float(sps.beta.ppf(0.95, count + 1, self.trials - count))


def simulate(grid: Grid, scenario: str, trials: int, seed: int = 0, n_resamples: int = N_RESAMPLES,
             lazy: bool = True, concentration: float = POWER_CONCENTRATIONS[0],
             effect: float = POWER_EFFECT) -> Rates:
    """Count "supported" verdicts over `trials` grids of `scenario` ("unimodal", "bimodal" or
    "effect"; `concentration` is the effect grid's seed-to-seed spread, `effect` its relative
    gain of every PPS method over QMIX)."""
    key = [grid.name, scenario, str(concentration)] + ([str(effect)] if effect != POWER_EFFECT else [])
    rng = np.random.default_rng([seed, zlib_key(*key)])
    out = Rates(grid.name, scenario, trials, claim3=0 if grid.high_dim else None)
    for _ in range(trials):
        scores = (draw_effect(grid, rng, effect=effect, concentration=concentration) if scenario == "effect"
                  else draw_null(grid, scenario, rng))
        v = judge_grid(scores, grid, rng, n_resamples, lazy)
        hits = [m for m, verdict in v["claim1"].items() if verdict == SUPPORTED]
        out.claim1_any += bool(hits)
        for m in hits:
            out.claim1[m] += 1
        out.claim2 += v["claim2"] == SUPPORTED
        if v["claim3"] is not None:
            out.claim3 += v["claim3"] == SUPPORTED
    return out


def zlib_key(*parts: str) -> int:
    import zlib

    return zlib.crc32("/".join(parts).encode())


# --------------------------------------------------------------------------- claims.md
def measured_markdown() -> str:
    """The measured rates as printed under the rules of claims.md."""
    from pps.analysis.calibration_measured import MEASURED

    if not MEASURED:
        return "Calibration: not measured yet (run `python benchmarks/calibrate_claims.py --write`)."

    def pct(r):
        return "–" if r is None else f"{100 * r[0]:.1f}% (≤ {100 * r[1]:.1f}%)"

    lines = [
        f"Measured false-\"supported\" rates (`benchmarks/calibrate_claims.py`, {MEASURED['trials']} simulated grids "
        f"per row, {MEASURED['n_resamples']} bootstrap resamples; in brackets the one-sided 95% upper bound of the "
        f"rate). Null grids: every method draws its runs from one distribution per map; `unimodal`: Beta-distributed "
        f"true win rates, `bimodal`: each run learns or fails. Claim 1 counts a grid if any of the 3 PPS methods is "
        f"called supported; claim 3 is not testable on the default grid (3m is not high-dimensional). On the "
        f"default grid (1 map x 3 seeds) no claim can be supported at all, whatever the data: the smallest exact p "
        f"of 3 vs 3 runs is 1/20 = 0.05 and claim 2 needs 5 seeds, so its 0% is by design, not luck.",
        "",
        "| grid | null | claim 1 | claim 2 | claim 3 |",
        "| :-- | :-- | --: | --: | --: |",
    ]
    for row in MEASURED["null"]:
        lines.append(f"| {row['grid']} | {row['null']} | {pct(row['claim1'])} | {pct(row['claim2'])} | {pct(row['claim3'])} |")
    parts = []
    for p in MEASURED["power"]:
        parts.append(f"{100 * p['per_method']:.0f}% per PPS method and {100 * p['any']:.0f}% for at least one of the "
                     f"three when the seed-to-seed SD of a final score is about {p['sd']:.2f}")
    lines += ["", (f"Power: with a true +{POWER_EFFECT:.0%} effect for every PPS method ({POWER_GRID.seeds} seeds on "
                   f"{POWER_GRID.maps} maps, QMIX's per-map mean win rates "
                   f"{', '.join(f'{POWER_SCALE * m:.2f}' for m in POWER_BASE_MEANS)}, {POWER_GRID.episodes} evaluation "
                   f"episodes per score; {MEASURED['power'][0]['trials']} grids each), claim 1 says supported in "
                   + "; ".join(parts) + ". 'Inconclusive' is therefore the expected reading of a real but "
                   "modest effect at fewer seeds or wider spreads, not evidence against it.")]
    return "\n".join(lines)
