"""Simulated grids of final scores whose truth is known: a hostile reviewer's nulls and effects.

A grid is QMIX and three PPS methods on some maps. Each method's runs on a map follow a
`Law`: a run's true win rate theta is drawn (Beta, or a learn-or-fail mixture, optionally
scaled by a relative effect), and its final score is Binomial(episodes, theta) / episodes, so
scores tie as real ones do (0, 1, k/episodes).

The catalogue covers the families a reviewer would try (each scenario says which): the
interchangeable null; unequal spreads with equal means; learn-or-fail mixtures with equal
means; per-map heterogeneity (maps at 0.05 / 0.5 / 0.95, a gain on one map only);
sub-threshold effects (+5%, +8%, and the +10% margin itself); true wins on maps QMIX fails and
the boundary of that claim; identical PPS methods for claim 3; uneven seed counts; 3 to 20
seeds; 1 to 10 maps; scores over 32 and 96 episodes; ceiling and floor; and the effects
(+20%, +25%, RS-PPS strongest) against which power and false "not supported" are measured.

The truth of each claim is computed from the laws (`truths`), never declared by hand, so a
scenario cannot be filed under the wrong heading.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np

from pps.analysis.claims.verdicts import RULES, ClaimRules

PPS = ("a-pps", "rs-pps", "pp-pps")
METHODS = ("qmix", *PPS)
FAIL_THETA = (0.2, 20.0)  # Beta parameters of a run that fails: wins about 1% of episodes


@dataclass(frozen=True)
class Law:
    """One method's runs on one map: theta ~ Beta(mean k, (1 - mean) k) if the run learns
    (probability `learn`), else theta ~ Beta(FAIL_THETA); then theta x `scale`, clipped to
    [0, 1]. `concentration` = inf makes every learning run's theta exactly `mean`."""

    mean: float
    concentration: float = 8.0
    learn: float = 1.0
    scale: float = 1.0

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        m = float(np.clip(self.mean, 1e-3, 1 - 1e-3))
        k = self.concentration
        learned = np.full(size, m) if np.isinf(k) else rng.beta(m * k, (1 - m) * k, size)
        if self.learn < 1:
            learned = np.where(rng.random(size) < self.learn, learned, rng.beta(*FAIL_THETA, size))
        return np.clip(self.scale * learned, 0.0, 1.0)


def concentration_for_sd(mean: float, sd: float) -> float:
    """The Beta concentration k whose SD at `mean` is `sd`: var = mean (1 - mean) / (k + 1)."""
    return mean * (1 - mean) / sd**2 - 1


@dataclass(frozen=True)
class Scenario:
    """One row of the calibration table: a family, the laws per method and map, seed counts."""

    name: str
    family: str
    laws: dict[str, tuple[Law, ...]]  # method -> one law per map
    seeds: dict[str, tuple[int, ...]]  # method -> seeds per map
    episodes: int = 32
    ungated: bool = False  # judged by the rules without their minimum of seeds and runs (why there is one)

    @property
    def maps(self) -> int:
        return len(self.laws["qmix"])

    def size_text(self) -> str:
        s = {tuple(v) for v in self.seeds.values()}
        if len(s) == 1 and len(set(next(iter(s)))) == 1:
            seeds = str(next(iter(s))[0])
        else:
            seeds = " vs ".join("/".join(map(str, self.seeds[m])) if len(set(self.seeds[m])) > 1
                                else str(self.seeds[m][0]) for m in ("a-pps", "qmix"))
        return f"{seeds} seeds × {self.maps} map{'s' if self.maps > 1 else ''}, {self.episodes} ep."

    def rules(self, base: ClaimRules = RULES) -> ClaimRules:
        """The published rules, or for an ungated row the same rules with no minimum beyond the
        2 runs per map a standard error needs."""
        return replace(base, min_seeds=2, min_runs=2) if self.ungated else base


def draw(scenario: Scenario, rng: np.random.Generator) -> dict[str, list[np.ndarray]]:
    """method -> one array of final scores per map."""
    out = {}
    for method in METHODS:
        out[method] = [rng.binomial(scenario.episodes, law.draw(rng, n)) / scenario.episodes
                       for law, n in zip(scenario.laws[method], scenario.seeds[method])]
    return out


@dataclass(frozen=True)
class Truth:
    """What is true in a scenario, from its laws (Monte Carlo over many runs, fixed seed)."""

    gain: dict[str, float]  # claim 1: average over maps of the relative gain in mean score, per PPS method
    wins: bool  # claim 2: some map where QMIX learns in fewer than `split` of seeds and a PPS method in more
    strongest: bool  # claim 3: RS-PPS's mean above each other PPS method's, averaged over maps
    learn: dict[str, tuple[float, ...]] = field(default_factory=dict)


@cache
def _moments(law: Law, episodes: int, learn_score: float, draws: int = 200_000) -> tuple[float, float]:
    """(mean final score, P(final score >= learn_score)) of one law, by Monte Carlo (fixed seed)."""
    rng = np.random.default_rng(12345)
    scores = rng.binomial(episodes, law.draw(rng, draws)) / episodes
    return float(scores.mean()), float((scores >= learn_score).mean())


def truths(scenario: Scenario, rules: ClaimRules = RULES, tol: float = 0.01) -> Truth:
    """Population means and learn probabilities of every (method, map), and the claims' truth.

    `tol` keeps a scenario built *at* a boundary (a +10% gain, a 50% learn rate) a null:
    Monte Carlo noise of the truth itself must not move it across."""
    means, learn = {}, {}
    for method in METHODS:
        mom = [_moments(law, scenario.episodes, rules.learn_score) for law in scenario.laws[method]]
        means[method], learn[method] = [m for m, _ in mom], tuple(p for _, p in mom)
    gain = {m: float(np.mean([(a - b) / max(b, rules.floor) for a, b in zip(means[m], means["qmix"])])) for m in PPS}
    wins = any(q < rules.split - tol and p > rules.split + tol
               for m in PPS for q, p in zip(learn["qmix"], learn[m]))
    diffs = [np.mean([a - b for a, b in zip(means["rs-pps"], means[m])]) for m in PPS if m != "rs-pps"]
    return Truth(gain, wins, all(d > tol for d in diffs), learn)


# --------------------------------------------------------------------------- the catalogue
def _means(maps: int, lo: float = 0.25, hi: float = 0.65) -> tuple[float, ...]:
    return tuple(np.linspace(lo, hi, maps)) if maps > 1 else ((lo + hi) / 2,)


def _grid(name: str, family: str, qmix: tuple[Law, ...], pps: dict[str, tuple[Law, ...]] | tuple[Law, ...],
          seeds: int | tuple[int, ...] = 10, qmix_seeds: int | tuple[int, ...] | None = None, episodes: int = 32,
          ungated: bool = False) -> Scenario:
    maps = len(qmix)
    pps = pps if isinstance(pps, dict) else {m: pps for m in PPS}

    def counts(n):
        return tuple(n) if isinstance(n, tuple) else (n,) * maps

    laws = {"qmix": qmix, **pps}
    sd = {m: counts(seeds) for m in PPS}
    sd["qmix"] = counts(seeds if qmix_seeds is None else qmix_seeds)
    return Scenario(name, family, laws, sd, episodes, ungated)


def _same(maps: int, **kw) -> tuple[Law, ...]:
    return tuple(Law(m, **kw) for m in _means(maps))


def _scaled(laws: tuple[Law, ...], scale: float) -> tuple[Law, ...]:
    return tuple(replace(law, scale=scale) for law in laws)


def _base(maps: int, k: float = 8.0) -> tuple[Law, ...]:
    """QMIX for the effect grids: 0.75 x Beta so that 1.25 x stays within [0, 1] (no clipping)."""
    return tuple(Law(m, concentration=k, scale=0.75) for m in _means(maps, 0.35, 0.75))


def _effect(maps: int, gain: float, k: float = 8.0) -> tuple[Law, ...]:
    return tuple(replace(law, scale=0.75 * (1 + gain)) for law in _base(maps, k))


def _learn_fail_equal(laws: tuple[Law, ...], learn: float, gain: float = 0.0) -> tuple[Law, ...]:
    """Learn-or-fail laws whose mean is (1 + gain) x each law's mean (the failing part included)."""
    fail_mean = FAIL_THETA[0] / sum(FAIL_THETA)
    out = []
    for law in laws:
        target = (1 + gain) * law.mean * law.scale
        out.append(Law((target - (1 - learn) * fail_mean) / learn, concentration=20.0, learn=learn))
    return tuple(out)


def catalogue() -> list[Scenario]:
    """Every scenario of the calibration table, in the order it prints.

    Rows with `ungated=True` apply the rules below their published minimum of seeds and runs
    (where the published rules give no verdict): they show why the minimum is what it is."""
    s: list[Scenario] = []
    wide, narrow = dict(concentration=2.0), dict(concentration=40.0)

    fam = "interchangeable null"
    for seeds, maps in ((16, 1), (8, 5), (10, 3), (20, 3), (10, 10)):
        s.append(_grid("every method one distribution", fam, _same(maps), _same(maps), seeds))
    s.append(_grid("every method one distribution", fam, _same(3), _same(3), 10, episodes=96))
    s.append(_grid("every method one distribution", fam, _same(5), _same(5), 5))
    for seeds in (3, 5):
        s.append(_grid("every method one distribution", fam, _same(3), _same(3), seeds, ungated=True))

    fam = "unequal spreads"
    for seeds, maps in ((8, 5), (10, 3)):
        s.append(_grid("PPS wider", fam, _same(maps, **narrow), _same(maps, **wide), seeds))
    for seeds, maps in ((16, 1), (8, 5), (8, 10)):
        s.append(_grid("PPS narrower", fam, _same(maps, **wide), _same(maps, **narrow), seeds))
    s.append(_grid("PPS wider, PPS 8 vs QMIX 16 seeds", fam, _same(3, **narrow), _same(3, **wide), 8, qmix_seeds=16))
    s.append(_grid("PPS narrower, PPS 8 vs QMIX 16 seeds", fam, _same(3, **wide), _same(3, **narrow), 8,
                   qmix_seeds=16))
    s.append(_grid("PPS wider, PPS 5 vs QMIX 10 seeds", fam, _same(3, **narrow), _same(3, **wide), 5, qmix_seeds=10))
    s.append(_grid("PPS SD 0.2, QMIX binomial noise only", fam, _same(3, concentration=np.inf),
                   tuple(Law(m, concentration=concentration_for_sd(m, 0.2)) for m in _means(3)), 10, episodes=96))
    s.append(_grid("PPS SD 0.2, QMIX binomial noise only", fam, _same(5, concentration=np.inf),
                   tuple(Law(m, concentration=concentration_for_sd(m, 0.2)) for m in _means(5)), 8, episodes=96))
    rs_wide = {"rs-pps": _same(3, **wide), "a-pps": _same(3, **narrow), "pp-pps": _same(3, **narrow)}
    s.append(_grid("RS-PPS wider than the other PPS methods", fam, _same(3, **narrow), rs_wide, 10))
    s.append(_grid("PPS narrower", fam, _same(5, **wide), _same(5, **narrow), 5, ungated=True))
    s.append(_grid("PPS wider, PPS 5 vs QMIX 10 seeds", fam, _same(3, **narrow), _same(3, **wide), 5, qmix_seeds=10,
                   ungated=True))

    fam = "learn-or-fail, equal means"
    high = (Law(0.55),)  # a 70% learner at 0.78: the worst single-map case measured
    two = (Law(0.5), Law(0.6))
    for name, base, learn, seeds in (("PPS learns or fails (80%)", _same(1), 0.8, 16),
                                     ("PPS learns or fails (70%), mean 0.55", high, 0.7, 16),
                                     ("PPS learns or fails (70%), means 0.5/0.6", two, 0.7, 8),
                                     ("PPS learns or fails (80%)", _same(3), 0.8, 8),
                                     ("PPS learns or fails (80%)", _same(3), 0.8, 10),
                                     ("PPS learns or fails (80%)", _same(3), 0.8, 20)):
        s.append(_grid(name, fam, base, _learn_fail_equal(base, learn), seeds))
    s.append(_grid("QMIX learns or fails (80%)", fam, _learn_fail_equal(_same(1), 0.8), _same(1), 16))
    s.append(_grid("QMIX learns or fails (80%)", fam, _learn_fail_equal(_same(3), 0.8), _same(3), 10))
    low = tuple(Law(m) for m in (0.2, 0.35, 0.5))  # a 60% learner must reach 1.67 x the mean
    s.append(_grid("PPS learns or fails (60%)", fam, low, _learn_fail_equal(low, 0.6), 10))
    for seeds in (8, 12):
        rs_lf = {"rs-pps": _learn_fail_equal(two, 0.7), "a-pps": two, "pp-pps": two}
        s.append(_grid("RS-PPS learns or fails (70%), the others not", fam, two, rs_lf, seeds))
    s.append(_grid("RS-PPS learns or fails (70%), the others not", fam, high,
                   {"rs-pps": _learn_fail_equal(high, 0.7), "a-pps": high, "pp-pps": high}, 16))
    s.append(_grid("PPS learns or fails (70%), mean 0.55", fam, high, _learn_fail_equal(high, 0.7), 8, ungated=True))
    s.append(_grid("RS-PPS learns or fails (70%), the others not", fam, high,
                   {"rs-pps": _learn_fail_equal(high, 0.7), "a-pps": high, "pp-pps": high}, 8, ungated=True))
    s.append(_grid("PPS learns or fails (80%)", fam, _same(3), _learn_fail_equal(_same(3), 0.8), 3, ungated=True))

    fam = "per-map heterogeneity"
    het = tuple(Law(m, concentration=20.0) for m in (0.05, 0.5, 0.95))
    gain_mid = (het[0], Law(0.6, concentration=20.0), het[2])
    for seeds in (8, 10, 20):
        s.append(_grid("0.05/0.5/0.95, +20% on the middle map only", fam, het, gain_mid, seeds))

    fam = "sub-threshold effect"
    for gain, seeds, maps in ((0.05, 10, 3), (0.08, 10, 3), (0.08, 20, 5), (0.08, 8, 5), (0.10, 10, 3), (0.10, 20, 5)):
        s.append(_grid(f"+{gain:.0%}{' (the margin itself)' if gain == 0.10 else ''}", fam, _base(maps),
                       _effect(maps, gain), seeds))

    fam = "true wins where QMIX fails"
    for learn in (0.9, 0.6):
        for seeds in (5, 10, 20):
            fails = (Law(0.01, learn=0.0),) + _same(2, concentration=20.0)
            wins = (Law(0.7, concentration=20.0, learn=learn),) + _same(2, concentration=20.0)
            s.append(_grid(f"PPS learns {learn:.0%} of seeds where QMIX never does", fam, fails, wins, seeds))
    for seeds, maps in ((10, 5), (10, 10), (20, 5)):
        fails = (Law(0.01, learn=0.0),) + _same(maps - 1, concentration=20.0)
        wins = (Law(0.7, concentration=20.0, learn=0.9),) + _same(maps - 1, concentration=20.0)
        s.append(_grid("PPS learns 90% where QMIX never does, 1 map of many", fam, fails, wins, seeds))
    for seeds in (10, 20):
        fails = (Law(0.01, learn=0.0),) + _same(2, concentration=20.0)
        edge = (Law(0.7, concentration=20.0, learn=0.5),) + _same(2, concentration=20.0)
        s.append(_grid("PPS learns 50% where QMIX never does (claim 2's boundary)", fam, fails, edge, seeds))

    fam = "learn-or-fail null (claim 2)"
    for seeds, maps in ((5, 5), (10, 5), (10, 10), (20, 5)):
        laws = tuple(Law(0.6, concentration=20.0, learn=p) for p in np.linspace(0.2, 0.8, maps))
        s.append(_grid("every method learns 20-80% of seeds", fam, laws, laws, seeds))

    fam = "identical PPS methods (claim 3)"
    for seeds in (8, 10, 20):
        s.append(_grid("PPS identical, all +25% over QMIX", fam, _base(3), _effect(3, 0.25), seeds))

    fam = "uneven seed counts"
    uneven, full = (10, 9, 8, 7, 6), (10, 9, 10, 10, 10)
    s.append(_grid("PPS 10/9/8/7/6 vs QMIX 10/9/10/10/10", fam, _same(5), _same(5), uneven, qmix_seeds=full))
    s.append(_grid("PPS 10/9/8/7/6 vs QMIX 10/9/10/10/10, +25%", fam, _base(5), _effect(5, 0.25), uneven,
                   qmix_seeds=full))

    fam = "ceiling and floor"
    top = tuple(Law(0.95, concentration=40.0) for _ in range(3))
    s.append(_grid("every method at 0.95", fam, top, top, 10))
    for seeds, maps in ((10, 3), (20, 5)):
        bottom = tuple(Law(0.02, concentration=40.0) for _ in range(maps))
        s.append(_grid("every method at 0.02", fam, bottom, bottom, seeds))

    fam = "+25% (false 'not supported')"
    for seeds, maps in ((16, 1), (8, 3), (10, 3), (20, 3), (8, 5), (8, 10)):
        s.append(_grid("+25%, every PPS method", fam, _base(maps), _effect(maps, 0.25), seeds))
    s.append(_grid("+25%, every PPS method", fam, _base(3), _effect(3, 0.25), 10, episodes=96))
    for seeds in (8, 10):
        s.append(_grid("+25% in mean, PPS learns or fails (80%)", fam, _base(3),
                       _learn_fail_equal(_base(3), 0.8, gain=0.25), seeds))
    for seeds, maps in ((16, 1), (10, 3)):
        qmix_lf = _learn_fail_equal(_base(maps), 0.8)
        pps = tuple(Law(law.learn * law.mean * 1.25 + 0.01 * (1 - law.learn)) for law in qmix_lf)
        s.append(_grid("+25% over a QMIX that learns or fails (80%)", fam, qmix_lf, pps, seeds))
    for seeds, maps in ((3, 3), (5, 3), (8, 1)):
        s.append(_grid("+25%, every PPS method", fam, _base(maps), _effect(maps, 0.25), seeds, ungated=True))

    fam = "RS-PPS strongest (claim 3 effect)"
    for seeds in (8, 10, 20):
        rs = {"rs-pps": _effect(3, 0.25), "a-pps": _base(3), "pp-pps": _base(3)}
        s.append(_grid("RS-PPS +25% over the other PPS methods", fam, _base(3), rs, seeds))
    return s


def power_scenarios(gain: float = 0.20, seeds: tuple[int, ...] = (10, 15, 20, 30),
                    spreads: tuple[float, ...] = (20.0, 8.0)) -> list[Scenario]:
    """+20% on every PPS method, 3 maps: claim 1's power against the number of seeds, for a
    moderate (Beta concentration 20: seed-to-seed SD of a score about 0.1) and a wide spread."""
    return [_grid(f"+{gain:.0%} power, concentration {k:g}", "power", _base(3, k), _effect(3, gain, k), n)
            for k in spreads for n in seeds]
