"""`pps plot`: the results tables -> figures/<name>.png and .pdf for every FIGURE_NAMES entry."""

from __future__ import annotations

import argparse
from pathlib import Path

from pps.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", type=Path, default=Path("results"), help="folder written by pps aggregate and pps stats (default: results)")
    parser.add_argument("--out", type=Path, default=Path("figures"), help="where the figures go (default: figures)")
    parser.add_argument("--baseline", default=None, help="baseline method (default: the one pps stats used, from stats.csv)")
    parser.add_argument("--claims-interval", type=int, default=300, help="K at which PPS methods appear in the learning-curve and final-performance figures; the nearest K if absent (default: 300)")
    parser.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the CI bands (default: 0)")


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pps.analysis import io
    from pps.analysis.outputs import FIGURE_FORMATS, FIGURE_NAMES
    from pps.analysis.plots import all_figures

    res = Path(args.results)
    need = "run `pps aggregate` then `pps stats` first"
    curves = io.read_table(res / "curves.csv", need, io.CURVES_COLUMNS)
    final = io.read_table(res / "final.csv", need, ("env", "map", "method", "interval", "seed", "score_kind", "final_score"))
    stats = io.read_table(res / "stats.csv", "run `pps stats` first", ("env", "map", "method", "interval", "n", "iqm", "baseline"))
    aggregate = io.read_table(res / "aggregate.csv", "run `pps stats` first", ("method", "interval", "iqm"))
    speed = io.read_table(res / "speedup.csv", "run `pps stats` first", ("env", "map", "method", "interval", "threshold", "median_steps"))
    if final.empty:
        raise UserError(f"{res / 'final.csv'} holds no runs; nothing to plot.")
    baseline = args.baseline or (stats["baseline"].dropna().iloc[0] if stats["baseline"].notna().any() else "qmix")
    makers = all_figures(curves, final, stats, aggregate, speed, baseline=baseline,
                         claims_interval=args.claims_interval, seed=args.bootstrap_seed)
    assert tuple(makers) == FIGURE_NAMES, "pps.analysis.outputs.FIGURE_NAMES and plots.all_figures disagree"
    figures = {}
    try:
        for name in FIGURE_NAMES:  # draw everything before writing anything
            figures[name] = makers[name]()
        for name, fig in figures.items():
            io.save_figure(fig, Path(args.out) / name, FIGURE_FORMATS)
    finally:
        for fig in figures.values():
            plt.close(fig)
    print(f"pps plot: {len(figures) * len(FIGURE_FORMATS)} files -> {args.out}/ ({', '.join(FIGURE_NAMES)})")
    return 0
