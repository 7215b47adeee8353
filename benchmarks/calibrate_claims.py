"""Calibration of the claim verdicts of `claims.md`: false-"supported" rates and power.

    python benchmarks/calibrate_claims.py                 # measure and print (about 5 min on 2 cores)
    python benchmarks/calibrate_claims.py --write         # ... and store the rates for claims.md
    python benchmarks/calibrate_claims.py --stability     # Monte Carlo error of the bootstrap vs resamples
    python benchmarks/calibrate_claims.py --previous-rule # the claim-1 rule before issue 9, same nulls
    python benchmarks/calibrate_claims.py --power-curve   # power of claim 1 against the true gain
                                                          # (claims preset: 10 seeds x 3 maps)

Null grids (every method one distribution per map; `unimodal` and `bimodal` learn/fail) at the
default grid (1 map x 3 seeds) and the paper grid (5 maps x 5 seeds, 3 of them
high-dimensional), and the power of claim 1 for a true +20% effect at 10 seeds on 3 maps, all
through the functions that write `claims.md` (see `pps.analysis.calibration`). `--write`
regenerates `pps/analysis/calibration_measured.py`, which `claims.md` prints under its rules.

`--stability` shows why the bootstrap uses `pps.analysis.stats.N_RESAMPLES` resamples: for
grids with a real effect it reports, per number of resamples, the Monte Carlo standard
deviation of claim 1's lower CI bound across `--bootstrap-seed` values and the share of grids
whose verdict changes between bootstrap seeds 0-3.
"""

from __future__ import annotations

import argparse
import pprint
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from pps.analysis import calibration as K
from pps.analysis.claims import SUPPORTED, judge_improvement
from pps.analysis.stats import N_RESAMPLES

MEASURED_FILE = Path(__file__).resolve().parents[1] / "pps" / "analysis" / "calibration_measured.py"


def _simulate(job: tuple) -> K.Rates:
    grid, scenario, trials, seed, n_resamples, concentration = job
    return K.simulate(K.GRIDS.get(grid, K.POWER_GRID), scenario, trials, seed, n_resamples, lazy=True,
                      concentration=concentration)


def _fmt(rates: K.Rates, count) -> str:
    if count is None:
        return "–"
    return f"{100 * rates.rate(count):5.2f}% (≤ {100 * rates.upper(count):.2f}%)"


def calibrate(trials: int, power_trials: int, seed: int, n_resamples: int, jobs: int) -> dict:
    nulls = [(g, k, trials, seed, n_resamples, K.CONCENTRATION) for g in K.GRIDS for k in K.NULLS]
    power = [("power", "effect", power_trials, seed, n_resamples, c) for c in K.POWER_CONCENTRATIONS]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(_simulate, nulls + power))
    null_rates, power_rates = results[: len(nulls)], results[len(nulls):]
    print(f"false-'supported' rates, {trials} null grids each (in brackets: one-sided 95% upper bound)")
    print(f"{'grid':8} {'null':9} {'claim 1 (any of 3)':>26} {'claim 2':>24} {'claim 3':>24}   claim 1 per method")
    rows = []
    for r in null_rates:
        per = ", ".join(f"{m} {100 * r.rate(c):.2f}%" for m, c in r.claim1.items())
        print(f"{r.grid:8} {r.scenario:9} {_fmt(r, r.claim1_any):>26} {_fmt(r, r.claim2):>24} {_fmt(r, r.claim3):>24}   {per}")
        rows.append({
            "grid": r.grid, "null": r.scenario,
            "claim1": (r.rate(r.claim1_any), r.upper(r.claim1_any)),
            "claim1_per_method": {m: r.rate(c) for m, c in r.claim1.items()},
            "claim2": (r.rate(r.claim2), r.upper(r.claim2)),
            "claim3": None if r.claim3 is None else (r.rate(r.claim3), r.upper(r.claim3)),
        })
    pw = []
    for c, r in zip(K.POWER_CONCENTRATIONS, power_rates):
        sd = _power_sd(c)
        per_method = float(np.mean([r.rate(v) for v in r.claim1.values()]))
        print(f"power (+{K.POWER_EFFECT:.0%}, {K.POWER_GRID.seeds} seeds x {K.POWER_GRID.maps} maps, SD ~ {sd:.2f}, "
              f"{power_trials} grids): per method {100 * per_method:.1f}% "
              f"({', '.join(f'{m} {100 * r.rate(v):.1f}%' for m, v in r.claim1.items())}), any {100 * r.rate(r.claim1_any):.1f}%")
        pw.append({"concentration": c, "sd": round(sd, 3), "trials": power_trials, "per_method": per_method,
                   "any": r.rate(r.claim1_any)})
    return {"trials": trials, "n_resamples": n_resamples, "seed": seed, "null": rows, "power": pw}


def power_curve(trials: int, n_resamples: int, seed: int, jobs: int,
                effects: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5)) -> None:
    """Power of claim 1 (per PPS method and for any of the three) against the true relative
    gain, at the claims preset's size (10 seeds x 3 maps) and both seed-to-seed spreads: the
    smallest gain the preset detects with 80% power is read off this table."""
    jobs_list = [(e, c) for c in K.POWER_CONCENTRATIONS for e in effects]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(_simulate_effect, [(e, c, trials, seed, n_resamples) for e, c in jobs_list]))
    print(f"claim 1 power, {trials} grids per cell, {n_resamples} resamples (10 seeds x 3 maps)")
    print(f"{'true gain':>10} {'seed SD':>8} {'per method':>11} {'any of 3':>9}")
    for (effect, c), r in zip(jobs_list, results):
        per_method = float(np.mean([r.rate(v) for v in r.claim1.values()]))
        print(f"{effect:>9.0%} {_power_sd(c):>8.3f} {per_method:>10.1%} {r.rate(r.claim1_any):>8.1%}")


def _simulate_effect(job: tuple) -> K.Rates:
    effect, concentration, trials, seed, n_resamples = job
    return K.simulate(K.POWER_GRID, "effect", trials, seed, n_resamples, lazy=True,
                      concentration=concentration, effect=effect)


def _power_sd(concentration: float, draws: int = 400) -> float:
    """Mean over maps of QMIX's seed-to-seed SD of final scores in the effect grid."""
    rng = np.random.default_rng(0)
    sds = [np.mean([x.std(ddof=1) for x in K.draw_effect(K.POWER_GRID, rng, concentration=concentration)["qmix"]])
           for _ in range(draws)]
    return float(np.mean(sds))


def stability(grids: int, seeds: int, resamples: tuple[int, ...]) -> None:
    """Monte Carlo error of claim 1's lower bound and verdict flips across bootstrap seeds."""
    rng = np.random.default_rng(123)
    cases = [K.draw_effect(K.POWER_GRID, rng, concentration=K.POWER_CONCENTRATIONS[0]) for _ in range(grids)]
    print(f"claim 1 on {grids} effect grids (+{K.POWER_EFFECT:.0%}, 10 seeds x 3 maps), bootstrap seeds 0-{seeds - 1}")
    print(f"{'resamples':>10} {'MC SD of lower bound':>22} {'grids whose verdict flips':>27}")
    for b in resamples:
        sds, flips = [], 0
        for case in cases:
            los, verdicts = [], set()
            for s in range(seeds):
                r = judge_improvement(case["a-pps"], case["qmix"], 3, np.random.default_rng([s, 1]), n_resamples=b)
                los.append(r.diff_lo)
                verdicts.add(r.verdict == SUPPORTED)
            sds.append(np.std(los, ddof=1))
            flips += len(verdicts) > 1
        print(f"{b:>10} {np.mean(sds):>17.4f} pts {flips:>20} / {grids}")


def _rounded(x):
    if isinstance(x, float):
        return round(x, 5)
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_rounded(v) for v in x)
    return x


def previous_rule(trials: int, seed: int) -> None:
    """The rule before issue 9 on the same null grids, for comparison: claim 1 "supported" when
    the 95% stratified-bootstrap CI (2000 resamples) of the relative IQM improvement lies above
    0 and reaches 10%, for any of the three PPS methods."""
    from pps.analysis.stats import iqm, percentile_ci, relative_resamples, stratified_resample

    for grid in K.GRIDS.values():
        for null in K.NULLS:
            rng = np.random.default_rng([seed, 99])
            hits = 0
            for _ in range(trials):
                s = K.draw_null(grid, null, rng)
                if iqm(np.concatenate(s["qmix"])) <= 0:
                    continue
                db = iqm(stratified_resample(s["qmix"], rng, 2000), axis=1)
                found = False
                for m in K.PPS:
                    lo, hi = percentile_ci(relative_resamples(iqm(stratified_resample(s[m], rng, 2000), axis=1), db))
                    found |= lo > 0 and hi >= 0.10
                hits += found
            print(f"previous rule, claim 1 (any of 3): {grid.name:8} {null:9} {100 * hits / trials:5.1f}% of {trials} null grids")


def write_measured(result: dict) -> None:
    body = pprint.pformat(_rounded(result), width=110, sort_dicts=False)
    text = (f'"""Measured by `python benchmarks/calibrate_claims.py --write` on {time.strftime("%Y-%m-%d")} '
            f'(2 CPU cores, {result["trials"]} null grids per row); do not edit by hand."""\n\nMEASURED: dict = {body}\n')
    MEASURED_FILE.write_text(text)
    print(f"wrote {MEASURED_FILE}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=4000, help="null grids per (grid, null) (default 4000)")
    ap.add_argument("--power-trials", type=int, default=1000, help="effect grids per spread (default 1000)")
    ap.add_argument("--n-resamples", type=int, default=N_RESAMPLES, help=f"bootstrap resamples (default {N_RESAMPLES}, as claims.md)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--write", action="store_true", help="store the rates in pps/analysis/calibration_measured.py")
    ap.add_argument("--stability", action="store_true", help="only the resample-count study")
    ap.add_argument("--previous-rule", action="store_true", help="only the pre-issue-9 claim-1 rule on the null grids")
    ap.add_argument("--power-curve", action="store_true", help="only claim 1's power against the true gain")
    args = ap.parse_args(argv)
    t0 = time.time()
    if args.stability:
        stability(grids=100, seeds=4, resamples=(2000, 5000, 20000, 50000))
    elif args.previous_rule:
        previous_rule(min(args.trials, 1000), args.seed)
    elif args.power_curve:
        power_curve(min(args.power_trials, 300), args.n_resamples, args.seed, args.jobs)
    else:
        result = calibrate(args.trials, args.power_trials, args.seed, args.n_resamples, args.jobs)
        if args.write:
            write_measured(result)
    print(f"({time.time() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
