"""`pps stats` judges the claims on any seed counts: uneven ones, and a single seed on a map.

Only the command line is imported here, so the test also runs against older versions of the
analysis (where this grid raised "grid of 453600; too large" and wrote no table at all).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pps.cli import main

CURVES = ["env", "map", "method", "interval", "seed", "step", "metric", "value"]


def _write_results(folder: Path, seeds: dict[tuple[str, str], int], seed: int = 0) -> Path:
    """final.csv (binomial win rates over 96 episodes) and an empty curves.csv."""
    rng = np.random.default_rng(seed)
    rows = []
    for (map_, method), n in seeds.items():
        interval = None if method == "qmix" else 300
        for s in range(n):
            rows.append({"env": "smax", "map": map_, "method": method, "interval": interval, "seed": s,
                         "score_kind": "win_rate", "final_score": rng.binomial(96, 0.45) / 96})
    final = pd.DataFrame(rows)
    final["interval"] = final["interval"].astype("Int64")
    folder.mkdir(parents=True, exist_ok=True)
    final.to_csv(folder / "final.csv", index=False)
    pd.DataFrame(columns=CURVES).to_csv(folder / "curves.csv", index=False)
    return folder


def test_pps_stats_finishes_on_uneven_seed_counts_and_a_single_seed_map(tmp_path, capsys):
    maps = ("8m", "2s3z", "3s_vs_5z", "MMM2", "corridor")
    seeds = {}
    for map_, pps_n, qmix_n in zip(maps, (10, 9, 8, 7, 6), (10, 9, 10, 10, 10)):
        seeds[(map_, "qmix")] = qmix_n
        for method in ("a-pps", "rs-pps", "pp-pps"):
            seeds[(map_, method)] = pps_n
    seeds[("3m", "qmix")] = 1  # one seed on a map
    seeds[("3m", "a-pps")] = 1
    res = _write_results(tmp_path / "results", seeds)
    assert main(["stats", "--results", str(res)]) == 0
    claims = (res / "tables" / "claims.md").read_text()
    for claim in ("average improvement over QMIX", "wins tasks QMIX cannot", "RS-PPS strongest"):
        assert claim in claims
    assert "Traceback" not in capsys.readouterr().err


def test_pps_stats_finishes_when_every_map_has_one_seed(tmp_path):
    seeds = {(m, method): 1 for m in ("8m", "3m") for method in ("qmix", "a-pps", "rs-pps")}
    res = _write_results(tmp_path / "results", seeds)
    assert main(["stats", "--results", str(res)]) == 0
    assert "inconclusive" in (res / "tables" / "claims.md").read_text()
