"""`pps scaling`: final.csv + overhead.csv -> results/scaling.csv and figures/scaling.{png,pdf}
(each method's score gain over the baseline and its cost against the number of agents).
Refuses, writing nothing, when the runs cover fewer than 2 distinct agent counts."""

from __future__ import annotations

import argparse
from pathlib import Path

from pps.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", type=Path, default=Path("results"), help="folder holding final.csv (pps aggregate) and overhead.csv (pps overhead); scaling.csv goes here too (default: results)")
    parser.add_argument("--figures", type=Path, default=Path("figures"), help="where scaling.png and scaling.pdf go (default: figures)")
    parser.add_argument("--baseline", default="qmix", help="method every gain is measured against (default: qmix)")
    parser.add_argument("--claims-interval", type=int, default=300, help="K at which PPS methods appear in the figure; the nearest K if absent (default: 300). The table has every K")
    parser.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the gain CIs, so the table is identical each time (default: 0)")


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")

    from pps.analysis import io
    from pps.analysis.outputs import FIGURE_FORMATS, MIN_AGENT_COUNTS, SCALING_FIGURE, SCALING_FILES
    from pps.analysis.overhead import RUN_COLUMNS
    from pps.analysis.scaling import agent_counts, enough_agent_counts, scaling_table, score_column
    from pps.analysis.study_plots import scaling_figure

    res = Path(args.results)
    final = io.read_table(res / "final.csv", "run `pps aggregate` first", ("env", "map", "method", "interval", "seed"))
    overhead = io.read_table(res / "overhead.csv", "run `pps overhead` first", RUN_COLUMNS[:6] + ("learner_ms_per_update", "steps_per_s", "peak_rss_mb", "s_per_mstep"))
    if final.empty:
        raise UserError(f"{res / 'final.csv'} holds no runs; nothing to scale.")
    counts = agent_counts(final)
    if not enough_agent_counts(counts.values()):
        found = ", ".join(f"{m} ({n:g} agents)" if n == n else f"{m} (unknown)" for (_, m), n in counts.items())
        raise UserError(
            f"A scaling study needs runs on maps with at least {MIN_AGENT_COUNTS} different numbers of agents; "
            f"{res / 'final.csv'} has {found}. Train more maps (workflow/config/scaling.yaml) first.")
    if args.baseline not in set(final["method"]):
        raise UserError(f"The baseline '{args.baseline}' has no runs in {res / 'final.csv'} "
                        f"(methods: {', '.join(sorted(set(final['method'])))}); pass --baseline.")
    try:
        score_column(final)
    except ValueError as err:
        raise UserError(f"{res / 'final.csv'}: {err}; re-run `pps aggregate`.") from None
    table = scaling_table(final, overhead, args.baseline, seed=args.bootstrap_seed)
    fig = scaling_figure(table, overhead, args.baseline, args.claims_interval)
    io.write_study({res / SCALING_FILES[0]: table}, fig, Path(args.figures) / SCALING_FIGURE, FIGURE_FORMATS)
    print(f"pps scaling: {len(table)} cells on {len(counts)} maps -> {res / SCALING_FILES[0]}, "
          f"{Path(args.figures) / SCALING_FIGURE}.{{{','.join(FIGURE_FORMATS)}}}")
    return 0
