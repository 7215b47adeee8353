"""Figures: they draw what the statistics computed (no resampling here) and are written as files.

- `paper`    the figures of `pps plot`
- `studies`  the figures of `pps overhead` and `pps scaling`
- `files`    atomic, reproducible PNG/PDF files

Importing this package selects matplotlib's Agg backend first: figures here are files, never
windows, and the backend must be chosen before `matplotlib.pyplot` is imported by a module
of the package.
"""

import matplotlib

matplotlib.use("Agg")
