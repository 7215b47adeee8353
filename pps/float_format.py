"""How every CSV the suite writes spells a float: no binary noise, the same way everywhere.

Arithmetic in binary leaves noise in the last bits of a double (1 - 0.057 is
0.9430000000000001), and `repr` prints it. A table full of such tails is harder to read
and to diff, and says nothing the value does not. So floats are written with
`SIGNIFICANT_DIGITS` significant digits (`%.10g`): enough to show a loss, a return or a
win rate to far more precision than any run determines it (and to see two runs differ in a
loss's 9th digit), few enough that the noise of double arithmetic (about 16 digits) never
shows. `metrics.csv` (`pps.run_folder`), every results table (`pps.analysis.data.io`) and
the benchmark tables use it.

Per-episode returns are float32 (the runner sums rewards in float32), and a float32 value
printed at 10 digits of its double shows float32's own noise (0.1 -> 0.1000000015); they are
written as the shortest text that reads back as the same float32 (`format_float32`).
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal

SIGNIFICANT_DIGITS = 10
# float32 carries about 7.2 significant decimal digits: statistics of float32 values (a mean
# return, a loss) are written with 7, so the rounding of their inputs never shows
FLOAT32_DIGITS = 7
FLOAT_FORMAT = f"%.{SIGNIFICANT_DIGITS}g"  # pandas' `float_format`: the same text as `format_float`


def format_float(value: float | None, digits: int = SIGNIFICANT_DIGITS) -> str:
    """A float as CSV text: `digits` significant digits; None and NaN are empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return format(float(value), f".{digits}g")


def clean_float(value: float) -> float:
    """The double that `format_float` writes, for formats that print a float's repr (JSON)."""
    return float(format(float(value), f".{SIGNIFICANT_DIGITS}g"))


def format_float32(value: float | None) -> str:
    """The shortest positional text that reads back as the same float32 (None and NaN are
    empty). Plain Python (no numpy): the workflow imports the run-folder contract that uses it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    x = _float32(float(value))
    if math.isinf(x):
        return str(x)
    for digits in range(1, 10):  # 9 significant digits always read back as the same float32
        text = format(x, f".{digits}g")
        if _float32(float(text)) == x:
            break
    return format(Decimal(text), "f")


def _float32(x: float) -> float:
    """`x` rounded to the nearest float32, as a double."""
    return struct.unpack("f", struct.pack("f", x))[0]
