"""The words a claim verdict may use, what each one promises, and the numbers of the rules.

The vocabulary is printed at the top of `claims.md` so that a reader who never opens the
rules section still reads every verdict correctly: each word says what the data *showed*
(at the stated error rate), never what the paper or the suite hoped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pps.analysis.stats.permtests import PermutationConfig

SUPPORTED = "supported"
SUPPORTED_ABOVE = "supported, above the claimed range"
GAIN_NOT_MARGIN = "gain shown, 10% not shown"
NOT_SUPPORTED = "not supported"
INCONCLUSIVE = "inconclusive"
TOO_FEW = "inconclusive at this n"
CEILING = "not testable (ceiling)"
NOT_APPLICABLE = "not applicable"

SUPPORTING = (SUPPORTED, SUPPORTED_ABOVE)  # the verdicts that count as "supported"


@dataclass(frozen=True)
class ClaimRules:
    """Every number the verdicts depend on, in one place (claims.md prints them).

    `alpha`: one-sided error rate of each claim's verdicts (supported and not supported each).
    `claimed_range`: the paper's "10-30%" average improvement over QMIX.
    `floor`: a per-map relative gain is taken against max(QMIX's mean, floor), so a map that
    QMIX scores about 0 on adds a gain in units of the floor instead of dividing by noise.
    `min_seeds`, `min_runs`: claims 1 and 3 judge a map only where each method has at least
    `min_seeds` runs on it, and give a verdict only where each method has at least `min_runs`
    runs over the maps judged. Below either, the calibration shows the studentized tests above
    their level on some null: a method that learns or fails looks like a sure gain whenever
    every one of its few seeds happens to learn (at 70%, all 8 seeds on one map learn 6% of the
    time), and only more runs, over more seeds or more maps, make that rare.
    `learn_score`: a run *learns* a map when its final win rate reaches it (claim 2).
    `split`: claim 2's line between "cannot" and "wins": QMIX learns the map in fewer than
    this share of its seeds, the PPS method in more.
    `size_factor`: claims 1 and 3 run each studentized test at this fraction of its nominal
    level. Those tests are exact only where runs are interchangeable; on the most skewed
    calibrated nulls (a PPS method that learns or fails, on one or two maps, at the minimum
    number of runs) they reject up to about 1.3 times as often as nominal, so the nominal
    level is scaled down to keep every measured error rate under `alpha` with room for the
    Monte Carlo error of the measurement.
    """

    alpha: float = 0.025
    claimed_range: tuple[float, float] = (0.10, 0.30)
    floor: float = 0.05
    min_seeds: int = 8
    min_runs: int = 16
    learn_score: float = 0.20
    split: float = 0.5
    size_factor: float = 0.6
    high_dim_min_units: int = 16
    permutation: PermutationConfig = field(default_factory=PermutationConfig)

    @property
    def margin(self) -> float:
        return self.claimed_range[0]

    def level(self, tests: int = 1) -> float:
        """The level of each of `tests` studentized tests that share one claim's alpha."""
        return self.alpha * self.size_factor / tests


RULES = ClaimRules()


def vocabulary(rules: ClaimRules = RULES) -> list[tuple[str, str]]:
    """(verdict, what it means) in the order a reader meets them."""
    lo, hi = (f"{100 * v:.0f}%" for v in rules.claimed_range)
    a = f"{100 * rules.alpha:g}%"
    return [
        (SUPPORTED, f"the data show the claim: for claim 1, an average gain over QMIX of at least {lo}. A claim "
                    f"that is false is called supported at most {a} of the time."),
        (SUPPORTED_ABOVE, f"claim 1 only: the gain is shown to reach {lo} and also shown to exceed {hi}, the top "
                          f"of the paper's range: PPS helps more than the paper says."),
        (GAIN_NOT_MARGIN, f"claim 1 only: PPS is shown to beat QMIX on average, but a gain of {lo} is not "
                          f"shown; the claimed size is neither confirmed nor ruled out."),
        (NOT_SUPPORTED, f"the data show the claim is false: for claim 1, the average gain is shown to be below "
                        f"{lo} (or negative). A true claim is called not supported at most {a} of the time."),
        (INCONCLUSIVE, "the seeds at hand show neither; more seeds may decide."),
        (TOO_FEW, f"too few seeds for any verdict: for claims 1 and 3, fewer than {rules.min_seeds} seeds per "
                  f"method on every map, or fewer than {rules.min_runs} runs per method over the maps with "
                  f"{rules.min_seeds}; for claim 2, no outcome of so few seeds could pass its exact tests. Nothing was "
                  f"tested."),
        (CEILING, f"claim 1 only: QMIX's scores leave no room for a {lo} gain (a win rate cannot exceed 1)."),
        (NOT_APPLICABLE, "claim 2 only: no task of the run has a win condition, so none can be won or lost."),
    ]


def vocabulary_markdown(rules: ClaimRules = RULES) -> str:
    lines = ["| verdict | meaning |", "| :-- | :-- |"]
    lines += [f"| **{v}** | {text} |" for v, text in vocabulary(rules)]
    return "\n".join(lines)


def familywise_text(rules: ClaimRules = RULES) -> str:
    """How the three claims' error rates combine (claims.md states it under the vocabulary)."""
    a = 100 * rules.alpha
    return (f"Each claim is wrong with probability at most {a:g}% whatever the truth: a false \"supported\" "
            f"and a false \"not supported\" are each held at {a:g}%, and a claim can only be wrong in one "
            f"direction at a time; claim 1 splits its {a:g}% over the PPS methods judged (Bonferroni), claim 2 "
            f"over every (map, PPS method) pair it considers (Holm). The three claims are tested separately, so "
            f"the chance that at least one verdict of this table is wrong is at most {3 * a:g}% (Bonferroni's "
            f"inequality over the three claims).")
