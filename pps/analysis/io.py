"""The analysis layer's file formats (DESIGN §4) and their atomic writers.

Every output goes through `pps.atomic` (temp file in the destination folder, then
`os.replace`), so a reader (or Snakemake) never sees a half-written table or figure, an
interrupted command leaves the previous version intact, and no `*.tmp` is left behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pps.atomic import atomic_path

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

# Floats in every CSV: enough digits to round-trip a win rate or a loss, few enough that
# tables are small and byte-identical across runs of the same data.
FLOAT_FORMAT = "%.10g"

CURVES_COLUMNS = ("env", "map", "method", "interval", "seed", "step", "metric", "value")
RUN_KEY = ("env", "map", "method", "interval", "seed")
CELL_KEY = ("env", "map", "method", "interval")


def write_csv(path: str | os.PathLike, df: "pd.DataFrame") -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def save_figure(fig: "Figure", path_stem: str | os.PathLike, formats: tuple[str, ...]) -> list[Path]:
    """Save `fig` as `<path_stem>.<fmt>` for each format, each atomically and reproducibly.

    PDF metadata dates are pinned (None) so the same data gives the same bytes.
    """
    written = []
    for fmt in formats:
        path = Path(f"{path_stem}.{fmt}")
        metadata = {"CreationDate": None, "ModDate": None} if fmt == "pdf" else {"Software": None}
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight", metadata=metadata)
        written.append(path)
    return written


def write_study(tables: dict[Path, "pd.DataFrame"], fig: "Figure", figure_stem: Path,
                formats: tuple[str, ...]) -> None:
    """A study command's outputs: each table as CSV, then the figure in every format, then the
    figure closed (also when a write fails). The caller builds everything first, so a
    failure while computing leaves the previous outputs as they were."""
    import matplotlib.pyplot as plt

    try:
        for path, table in tables.items():
            write_csv(path, table)
        save_figure(fig, figure_stem, formats)
    finally:
        plt.close(fig)


def read_table(path: Path, what: str, required: tuple[str, ...]) -> "pd.DataFrame":
    """Read a CSV the previous step wrote, with a UserError naming the file if it is unusable."""
    import pandas as pd

    from pps.errors import UserError

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


def write_curves_csv(path: str | os.PathLike, curves: "pd.DataFrame") -> None:
    """`curves.csv` at ~1M rows/s: the same text `write_csv` would produce (floats as %.10g,
    an empty field for a missing interval), formatted with plain Python instead of pandas'
    per-cell formatter, which dominates `pps aggregate` on the full grid (2M rows)."""
    import numpy as np

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
                fh.write("".join(
                    f"{p}{s},{m},{'' if v != v else format(v, '.10g')}\n"
                    for p, s, m, v in zip(pref[i:i + chunk], steps[i:i + chunk], metrics[i:i + chunk], values[i:i + chunk])
                ))


def pd_factorize(keys: "pd.DataFrame"):
    """Codes of each row's (env, map, method, interval, seed) run and the distinct keys
    (interval None if missing); rows of one run need not be adjacent."""
    import pandas as pd

    codes = keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup().to_numpy()
    first = pd.Series(range(len(keys))).groupby(codes).first().to_numpy()
    sub = keys.iloc[first]
    uniques = [(e, m, meth, None if pd.isna(i) else int(i), s)
               for e, m, meth, i, s in zip(sub["env"], sub["map"], sub["method"], sub["interval"], sub["seed"])]
    return codes, uniques
