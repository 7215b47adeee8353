"""`pps calibrate`: the claim verdicts' error rates on a hostile reviewer's nulls and effects.

    pps calibrate                 # every scenario, print the table
    pps calibrate --write         # ... and store it as the data claims.md quotes
    pps calibrate --only "learn"  # the scenarios whose family or name contains it
    pps calibrate --trials 200    # a quick look (larger Monte Carlo error)

Every scenario of `pps.analysis.claims.scenarios` (the interchangeable null, unequal
spreads, learn-or-fail mixtures with equal means, per-map heterogeneity, sub-threshold
effects, true wins where QMIX fails, identical PPS methods, uneven seeds, 3-20 seeds, 1-10
maps, 32 and 96 episodes, ceiling and floor, +25% effects) is drawn `trials` times and
judged by the functions that write `claims.md`; then claim 1's power at +20% on 3 maps is
measured against the number of seeds. Output: the table (returned, the command prints it)
and, in `out`, `claims_calibration.csv`, `.md` and `.json`; with `write`, also the package
data that `claims.md` and the README quote (`pps/analysis/claims/calibration_measured.{csv,json}`,
`pps.analysis.claims.measured`).

The defaults take about 9 CPU-minutes in one process (11 minutes of wall-clock on a shared
2-core machine); `jobs` spreads scenarios over that many processes (the numbers do not depend
on it: every scenario has its own seeded generator).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from pps.analysis.claims.calibration import CALIBRATION_RESAMPLES, simulate, table_row
from pps.analysis.claims.measured import MEASURED_CSV, MEASURED_JSON, summary_markdown, table_markdown
from pps.analysis.claims.scenarios import Scenario, catalogue, power_scenarios
from pps.analysis.data import io
from pps.errors import UserError

POWER_SEEDS = (10, 20, 40, 60, 90, 120)  # claim 1's power curve: seeds per method and map
POWER_GAIN = 0.20  # ... at this true gain of every PPS method


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _run(job: tuple[Scenario, int, int, int]) -> tuple[dict, dict]:
    """One scenario's table row and counts (a module-level function: worker processes pickle it)."""
    scenario, trials, seed, resamples = job
    t0 = time.process_time()
    counts = simulate(scenario, trials, seed, resamples)
    return table_row(scenario, counts, trials, time.process_time() - t0), counts


def _map(fn: Callable, jobs: list, workers: int, report: Callable[[str], None]) -> list:
    if workers <= 1:
        return [_progress(fn(j), i, len(jobs), report) for i, j in enumerate(jobs)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [_progress(r, i, len(jobs), report) for i, r in enumerate(pool.map(fn, jobs))]


def _progress(result: tuple[dict, dict], i: int, total: int, report: Callable[[str], None]) -> tuple[dict, dict]:
    row = result[0]
    report(f"[{i + 1}/{total}] {row['scenario']}, {row['size']}: {row['seconds']:.0f} s")
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
    laws = power_scenarios(spreads=(concentration,), seeds=(10,))[0].laws["qmix"]
    return float(np.mean([(rng.binomial(32, law.draw(rng, draws)) / 32).std() for law in laws]))


def calibrate(*, trials: int = 800, power_trials: int = 400, resamples: int = CALIBRATION_RESAMPLES, seed: int = 0,
              jobs: int = 1, only: str = "", power: bool = True, out: Path = Path("results/calibration"),
              write: bool = False, report: Callable[[str], None] = _to_stderr) -> str:
    """Measure every scenario whose family or name contains `only` (and, with `power`, claim 1's
    power curve); write the table into `out` (and with `write` as the package data); return it
    as Markdown. `report` gets one line per scenario measured and per file written."""
    if trials < 1 or power_trials < 1 or resamples < 19 or jobs < 1:
        raise UserError("--trials, --power-trials and --jobs must be at least 1, --resamples at least 19.")
    scenarios = [s for s in catalogue() if only.lower() in f"{s.family} {s.name}".lower()]
    if not scenarios:
        raise UserError(f"no scenario matches --only '{only}'.")
    if write and (only or not power):
        raise UserError("--write stores the whole table; drop --only and --no-power.")
    t0 = time.time()
    rows = [r for r, _ in _map(_run, [(s, trials, seed, resamples) for s in scenarios], jobs, report)]
    curve = []
    if power:
        prow = [r for r, _ in _map(_run, [(s, power_trials, seed, resamples)
                                          for s in power_scenarios(POWER_GAIN, POWER_SEEDS)], jobs, report)]
        curve = power_summary(prow, POWER_GAIN)
    minutes = (time.time() - t0) / 60
    table = pd.DataFrame(rows)
    meta = {"date": time.strftime("%Y-%m-%d"), "trials": trials, "power_trials": power_trials,
            "resamples": resamples, "seed": seed, "jobs": jobs, "minutes": round(minutes, 1),
            "power": curve}
    md = table_markdown(table) + "\n\nSummary:\n\n" + summary_markdown(meta, table) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    io.write_csv(out / "claims_calibration.csv", table)
    (out / "claims_calibration.md").write_text(md)
    (out / "claims_calibration.json").write_text(json.dumps(meta, indent=1) + "\n")
    report(f"wrote {out / 'claims_calibration.csv'} and .md ({minutes:.1f} min)")
    if write:
        io.write_csv(MEASURED_CSV, table)
        MEASURED_JSON.write_text(json.dumps(meta, indent=1) + "\n")
        report(f"wrote {MEASURED_CSV} and {MEASURED_JSON.name}")
    return md
