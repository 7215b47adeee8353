"""claims.md shows, beside every verdict, the power the calibration measured at the design the
claim was judged on: the seeds per method and map and the number of maps of this run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pps.analysis.claims import measured as M
from pps.analysis.claims.rules import HIGH_DIM_MAPS
from pps.analysis.data.cells import chosen_cells
from pps.analysis.render.claims import claim_designs, claims_markdown


def _table(rows):
    cols = ["family", "scenario", "size", "rules", "true_gain", "claim1_power", "claim1_power_se"]
    return pd.DataFrame(rows, columns=cols).assign(claim2_power=np.nan, claim2_power_se=np.nan,
                                                    claim3_power=np.nan, claim3_power_se=np.nan)


TABLE = _table([
    ("null", "every method one distribution", "10 seeds × 3 maps, 32 ep.", "published", 0.0, np.nan, np.nan),
    ("gain", "+25%, every PPS method", "10 seeds × 3 maps, 32 ep.", "published", 0.25, 0.10, 0.01),
    ("gain", "+25% in mean, PPS learns or fails (80%)", "10 seeds × 3 maps, 32 ep.", "published", 0.249, 0.09, 0.01),
    ("gain", "+25%, every PPS method", "20 seeds × 3 maps, 32 ep.", "published", 0.25, 0.24, 0.015),
    ("gain", "+25%, every PPS method", "16 seeds × 1 map, 32 ep.", "published", 0.25, 0.05, 0.008),
    ("gain", "+25%, every PPS method", "5 seeds × 3 maps, 32 ep.", "no minimum", 0.25, 0.05, 0.008),
    ("gain", "+25%, uneven", "8 vs 16 seeds × 3 maps, 32 ep.", "published", 0.25, 0.5, 0.01),
])


def test_sizes_parse_and_uneven_designs_are_left_out():
    assert M.parse_size("10 seeds × 3 maps, 32 ep.") == (10, 3, 32)
    assert M.parse_size("16 seeds × 1 map, 96 ep.") == (16, 1, 96)
    assert M.parse_size("8 vs 16 seeds × 3 maps, 32 ep.") is None


def test_the_exact_design_gives_its_rows_headline_first():
    p = M.design_power("claim1", 10, 3, TABLE)
    assert p.exact and (p.calibrated_seeds, p.calibrated_maps) == (10, 3)
    assert [r[0] for r in p.rows] == ["+25%, every PPS method", "+25% in mean, PPS learns or fails (80%)"]
    assert p.headline[3] == pytest.approx(0.10)
    assert M.power_headline(p) == '10% for "+25%, every PPS method" (10 seeds × 3 maps)'


def test_an_uncalibrated_design_takes_the_nearest_published_one_and_says_so():
    p = M.design_power("claim1", 30, 3, TABLE)  # 20 × 3 is nearer than 10 × 3 on a log scale
    assert (p.calibrated_seeds, p.calibrated_maps) == (20, 3) and not p.exact
    assert "the nearest calibrated design is 20 seeds × 3 maps" in M.power_headline(p)
    # rows judged without the minimum of seeds never stand in for a design
    assert M.design_power("claim1", 5, 3, TABLE).calibrated_seeds == 10
    assert M.design_power("claim1", 12, 1, TABLE).calibrated_maps == 1


def test_nothing_calibrated_gives_none():
    assert M.design_power("claim2", 10, 3, TABLE) is None
    assert M.power_headline(None) == "not calibrated at this design"


def _final(maps, env="smax", seeds=10, kinds=None):
    rng = np.random.default_rng(0)
    rows = []
    for map_ in maps:
        for method, interval in (("qmix", None), ("a-pps", 300), ("rs-pps", 300), ("pp-pps", 300)):
            rows += [(env, map_, method, interval, s, v) for s, v in enumerate(rng.uniform(0.3, 0.6, seeds))]
    df = pd.DataFrame(rows, columns=["env", "map", "method", "interval", "seed", "final_score"])
    df["interval"] = df["interval"].astype("Int64")
    return df


def _claims(final):
    return claims_markdown(final, baseline="qmix", claims_interval=300, high_dim=HIGH_DIM_MAPS, seed=0,
                           final_window="last 3")


def test_the_design_of_each_claim_is_what_it_is_judged_on():
    final = _final(["3m", "8m", "2s3z"])
    final = final[~((final["map"] == "2s3z") & (final["method"] == "pp-pps") & (final["seed"] >= 8))]
    d = claim_designs(final, chosen_cells(final, 300), "qmix", HIGH_DIM_MAPS)
    assert d["claim1"] == (8, 3) and d["claim2"] == (8, 3)
    assert d["claim3"] == (10, 1)  # 8m is the only high-dimensional map here
    mpe = _final(["simple_spread_v3", "simple_reference_v3"], env="mpe")
    d = claim_designs(mpe, chosen_cells(mpe, 300), "qmix", HIGH_DIM_MAPS)
    assert d["claim1"] == (10, 2) and d["claim2"] == (0, 0) and d["claim3"] == (0, 0)


def test_claims_md_gives_the_committed_calibration_power_beside_each_verdict():
    text = _claims(_final(["3m", "8m", "2s3z"]))
    summary = text.split("## 1.")[0]
    assert "| claim | verdict | power at this n |" in summary
    for claim in ("claim1", "claim2"):
        expected = M.power_headline(M.design_power(claim, 10, 3))
        assert "10 seeds × 3 maps)" in expected
        assert expected in summary
    assert M.power_headline(M.design_power("claim3", 10, 1)) in summary
    sections = text.split("## 1.")[1]
    assert sections.count("Power at this design (") == 3


def test_claims_md_on_particle_tasks_says_claims_2_and_3_have_no_power_to_give():
    text = _claims(_final(["simple_spread_v3", "simple_reference_v3", "simple_speaker_listener_v4"], env="mpe"))
    summary = text.split("## 1.")[0]
    assert summary.count("– (not applicable)") == 1 and summary.count("– (not judged on any map here)") == 1
    assert M.power_headline(M.design_power("claim1", 10, 3)) in summary
