"""Figures: they draw what the statistics computed (no resampling here) and are written as files.

- `layout`   the print layout: two canvas widths, text >= 8 pt, titles only on drafts
- `panels`   panel pieces the figures share (titles that fit, family grids, forest rows)
- `across`   the across-map views of Agarwal et al. (2021) in `pps plot`
- `paper`    the per-map figures of `pps plot`
- `studies`  the figures of `pps overhead` and `pps scaling`
- `files`    atomic, reproducible PNG/PDF files at every print size

Importing this package selects matplotlib's Agg backend first: figures here are files, never
windows, and the backend must be chosen before `matplotlib.pyplot` is imported by a module
of the package.
"""

import matplotlib

matplotlib.use("Agg")
