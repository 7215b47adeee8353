"""Calibration of the claim verdicts of `claims.md` on a hostile reviewer's nulls and effects.

    python benchmarks/calibrate_claims.py                 # every scenario, print the table
    python benchmarks/calibrate_claims.py --write         # ... and store it as the data claims.md quotes
    python benchmarks/calibrate_claims.py --only "learn"  # the scenarios whose family or name contains it
    python benchmarks/calibrate_claims.py --trials 200    # a quick look (larger Monte Carlo error)

Every scenario of `pps.analysis.calibration_scenarios` (the interchangeable null, unequal
spreads, learn-or-fail mixtures with equal means, per-map heterogeneity, sub-threshold
effects, true wins where QMIX fails, identical PPS methods, uneven seeds, 3-20 seeds, 1-10
maps, 32 and 96 episodes, ceiling and floor, +25% effects) is drawn `--trials` times and
judged by the functions that write `claims.md`; then claim 1's power at +20% on 3 maps is
measured against the number of seeds. Output: the table on stdout and, in `--out`, as
`claims_calibration.csv` and `.md`; with `--write`, also the package data that `claims.md`
and the README quote (`pps/analysis/calibration_measured.{csv,json}`).

The defaults take about 9 CPU-minutes in one process (11 minutes of wall-clock on a shared
2-core machine); `--jobs N` spreads scenarios over N processes (the numbers do not depend on
N: every scenario has its own seeded generator).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from pps.analysis import calibration as K
from pps.analysis import calibration_scenarios as S
from pps.analysis import calibration_table as CT

POWER_SEEDS = (10, 20, 40, 60, 90, 120)


def _run(job: tuple) -> tuple[dict, dict]:
    scenario, trials, seed, resamples = job
    t0 = time.process_time()
    counts = K.simulate(scenario, trials, seed, resamples)
    return K.table_row(scenario, counts, trials, time.process_time() - t0), counts


def _map(fn, jobs: list, workers: int) -> list:
    if workers <= 1:
        return [_progress(fn(j), i, len(jobs)) for i, j in enumerate(jobs)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [_progress(r, i, len(jobs)) for i, r in enumerate(pool.map(fn, jobs))]


def _progress(result, i: int, total: int):
    row = result[0]
    print(f"[{i + 1}/{total}] {row['scenario']}, {row['size']}: {row['seconds']:.0f} s", file=sys.stderr, flush=True)
    return result


def power_summary(rows: list[dict], gain: float) -> list[dict]:
    """Per spread: claim 1's power per PPS method at each seed count, and the seed count where
    it reaches 80% (linear interpolation between the measured counts)."""
    out = []
    by_spread: dict[str, dict[int, float]] = {}
    for row in rows:
        by_spread.setdefault(row["scenario"], {})[int(row["size"].split()[0])] = float(row["claim1_power"])
    for name, curve in by_spread.items():
        k = float(name.rsplit(" ", 1)[1])
        sd = _score_sd(k)
        seeds = sorted(curve)
        n80 = None
        for a, b in zip(seeds, seeds[1:]):
            if curve[a] < 0.8 <= curve[b]:
                n80 = int(np.ceil(a + (0.8 - curve[a]) * (b - a) / (curve[b] - curve[a])))
        if seeds and curve[seeds[0]] >= 0.8:
            n80 = seeds[0]
        out.append({"gain": gain, "concentration": k, "sd": round(sd, 3),
                    "by_seeds": {str(n): round(curve[n], 4) for n in seeds}, "n80": n80})
    return out


def _score_sd(concentration: float, draws: int = 200_000) -> float:
    """Seed-to-seed SD of QMIX's final score in the power grids (averaged over the 3 maps)."""
    rng = np.random.default_rng(0)
    laws = S.power_scenarios(spreads=(concentration,), seeds=(10,))[0].laws["qmix"]
    return float(np.mean([(rng.binomial(32, law.draw(rng, draws)) / 32).std() for law in laws]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=800, help="simulated grids per scenario (default 800)")
    ap.add_argument("--power-trials", type=int, default=400, help="grids per point of the power curve (default 400)")
    ap.add_argument("--resamples", type=int, default=K.CALIBRATION_RESAMPLES,
                    help=f"Monte Carlo relabellings per test (default {K.CALIBRATION_RESAMPLES}; claims.md uses 9,999)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--only", default="", help="only the scenarios whose family or name contains this text")
    ap.add_argument("--no-power", action="store_true", help="skip the power curve")
    ap.add_argument("--out", type=Path, default=Path("results/calibration"), help="folder for the CSV and Markdown table")
    ap.add_argument("--write", action="store_true", help="store the table as pps/analysis/calibration_measured.{csv,json}")
    args = ap.parse_args(argv)
    if args.trials < 1 or args.power_trials < 1 or args.resamples < 19 or args.jobs < 1:
        print("calibrate_claims: --trials, --power-trials and --jobs must be at least 1, --resamples at least 19",
              file=sys.stderr)
        return 2
    scenarios = [s for s in S.catalogue() if args.only.lower() in f"{s.family} {s.name}".lower()]
    if not scenarios:
        print(f"calibrate_claims: no scenario matches --only '{args.only}'", file=sys.stderr)
        return 2
    if args.write and (args.only or args.no_power):
        print("calibrate_claims: --write stores the whole table; drop --only and --no-power", file=sys.stderr)
        return 2
    t0 = time.time()
    rows = [r for r, _ in _map(_run, [(s, args.trials, args.seed, args.resamples) for s in scenarios], args.jobs)]
    power = []
    if not args.no_power:
        gain = 0.20
        prow = [r for r, _ in _map(_run, [(s, args.power_trials, args.seed, args.resamples)
                                          for s in S.power_scenarios(gain, POWER_SEEDS)], args.jobs)]
        power = power_summary(prow, gain)
    minutes = (time.time() - t0) / 60
    table = pd.DataFrame(rows)
    meta = {"date": time.strftime("%Y-%m-%d"), "trials": args.trials, "power_trials": args.power_trials,
            "resamples": args.resamples, "seed": args.seed, "jobs": args.jobs, "minutes": round(minutes, 1),
            "power": power}
    md = CT.table_markdown(table) + "\n\nSummary:\n\n" + CT.summary_markdown(meta, table) + "\n"
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "claims_calibration.csv", index=False)
    (args.out / "claims_calibration.md").write_text(md)
    (args.out / "claims_calibration.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {args.out / 'claims_calibration.csv'} and .md ({minutes:.1f} min)", file=sys.stderr)
    if args.write:
        table.to_csv(CT.MEASURED_CSV, index=False)
        CT.MEASURED_JSON.write_text(json.dumps(meta, indent=1) + "\n")
        print(f"wrote {CT.MEASURED_CSV} and {CT.MEASURED_JSON.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
