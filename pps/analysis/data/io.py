"""The analysis layer's CSV formats (docs/design.md §4) and their atomic writers and readers.

Every output goes through `pps.atomic` (temp file in the destination folder, then
`os.replace`), so a reader (or Snakemake) never sees a half-written table, an interrupted
command leaves the previous version intact, and no `*.tmp` is left behind. Figures are written
the same way by `pps.analysis.figures.files`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from pps.atomic import atomic_path
from pps.errors import UserError
from pps.float_format import FLOAT_FORMAT, SIGNIFICANT_DIGITS

# Floats in every CSV: `pps.float_format`'s significant digits, the same as metrics.csv: no
# binary noise, small tables, byte-identical across runs of the same data.
_FLOAT_SPEC = f".{SIGNIFICANT_DIGITS}g"  # what FLOAT_FORMAT writes, for format() in the fast writer

CURVES_COLUMNS = ("env", "map", "method", "interval", "seed", "step", "metric", "value")


def write_csv(path: str | os.PathLike, df: pd.DataFrame) -> None:
    """`df` as CSV, atomically, floats without binary noise (FLOAT_FORMAT)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def read_table(path: Path, what: str, required: tuple[str, ...]) -> pd.DataFrame:
    """Read a CSV the previous step wrote, with a UserError naming the file if it is unusable."""
    if not path.is_file():
        raise UserError(f"{path} does not exist: {what}")
    try:
        df = pd.read_csv(path, dtype={"interval": "Int64", "env": str, "map": str, "method": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as err:
        raise UserError(f"{path} is not a readable CSV ({err}).") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise UserError(
            f"{path} lacks the columns {', '.join(missing)}; it was not written by this version of "
            f"the suite. Re-run the step that makes it ({what})."
        )
    return df


def _plain(values) -> bool:
    return not any(any(ch in str(v) for ch in ',"\n\r') for v in values)


def write_curves_csv(path: str | os.PathLike, curves: pd.DataFrame) -> None:
    """`curves.csv` at ~1M rows/s: the same text `write_csv` would produce (floats as FLOAT_FORMAT,
    an empty field for a missing interval), formatted with plain Python instead of pandas'
    per-cell formatter, which dominates `pps collect` on the full grid (2M rows)."""
    cols = list(CURVES_COLUMNS)
    keys = curves[cols[:5]]
    if not (_plain(keys["env"].unique()) and _plain(keys["map"].unique()) and _plain(keys["method"].unique())
            and _plain(curves["metric"].unique())):
        return write_csv(path, curves[cols])  # names that need quoting: let pandas do it
    # one prefix per distinct run key, then rows pick theirs
    codes, uniques = pd_factorize(keys)
    prefixes = [
        f"{e},{m},{meth},{'' if iv is None else int(iv)},{int(s)},"
        for e, m, meth, iv, s in uniques
    ]
    pref = np.array(prefixes, dtype=object)[codes]
    steps = curves["step"].to_numpy().astype(np.int64).tolist()
    metrics = curves["metric"].tolist()
    values = curves["value"].to_numpy(float).tolist()
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(",".join(cols) + "\n")
            chunk = 200_000
            for i in range(0, len(steps), chunk):
                part = slice(i, i + chunk)
                fh.write("".join(
                    f"{p}{s},{m},{'' if v != v else format(v, _FLOAT_SPEC)}\n"
                    for p, s, m, v in zip(pref[part], steps[part], metrics[part], values[part])
                ))


def pd_factorize(keys: pd.DataFrame) -> tuple[np.ndarray, list[tuple]]:
    """Codes of each row's (env, map, method, interval, seed) run and the distinct keys
    (interval None if missing); rows of one run need not be adjacent."""
    codes = keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup().to_numpy()
    first = pd.Series(range(len(keys))).groupby(codes).first().to_numpy()
    sub = keys.iloc[first]
    uniques = [(e, m, meth, None if pd.isna(i) else int(i), s)
               for e, m, meth, i, s in zip(sub["env"], sub["map"], sub["method"], sub["interval"], sub["seed"])]
    return codes, uniques
