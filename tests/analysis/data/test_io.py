"""Results CSVs spell floats as metrics.csv does (`pps.float_format`): no binary noise."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pps.analysis import commands
from pps.analysis.data import io
from pps.float_format import SIGNIFICANT_DIGITS
from tests.helpers.synthetic_runs import write_run

NUMBER = re.compile(r"^-?(\d+)(?:\.(\d+))?(?:e[-+]\d+)?$")


def significant_digits(field: str) -> int:
    whole, frac = NUMBER.match(field).groups()
    return len((whole + (frac or "")).lstrip("0"))


def float_fields(path) -> list[str]:
    return [f for line in path.read_text().splitlines()[1:] for f in line.split(",") if NUMBER.match(f) and "." in f]


def test_both_writers_drop_binary_noise_and_agree(tmp_path):
    noisy = pd.DataFrame({"env": ["smax"] * 3, "map": ["3m"] * 3, "method": ["qmix"] * 3,
                          "interval": pd.array([None] * 3, dtype="Int64"), "seed": [0] * 3, "step": [0, 5, 10],
                          "metric": ["epsilon"] * 3, "value": [1 - 0.057, 0.1 + 0.2, np.nan]})
    io.write_csv(tmp_path / "a.csv", noisy)
    io.write_curves_csv(tmp_path / "b.csv", noisy)
    text = (tmp_path / "a.csv").read_text()
    assert text == (tmp_path / "b.csv").read_text()
    assert text.splitlines()[1:] == ["smax,3m,qmix,,0,0,epsilon,0.943", "smax,3m,qmix,,0,5,epsilon,0.3",
                                     "smax,3m,qmix,,0,10,epsilon,"]


def test_collect_writes_no_float_with_more_digits_than_the_format(tmp_path):
    for seed in range(3):  # pandas' default writer leaves noise in these (epsilon 0.9430000000000001, ...)
        write_run(tmp_path / "runs", seed=seed, t_max=20_000, eval_interval=1_000,
                  win=lambda s: np.minimum(1, s / 17_000 + 0.1), returns=lambda s: s / 7_000)
    assert any(significant_digits(f) > 12 for f in float_fields(next((tmp_path / "runs").rglob("metrics.csv"))))
    commands.collect(tmp_path / "runs", tmp_path / "out")
    for name in ("curves.csv", "final.csv"):
        fields = float_fields(tmp_path / "out" / name)
        assert fields and max(significant_digits(f) for f in fields) <= SIGNIFICANT_DIGITS, name
