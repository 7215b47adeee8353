"""`pps evidence`: a finished workflow run -> a reference set (docs/evidence/<date>-<preset>/) to
commit; `pps evidence --check SET`: is a committed set still what the code makes of it?

The options a set records are the workflow's: the preset's keys become options where the
workflow's rules take them (`pps.plan.collect_args`, `stats_args`, `figure_args`), read by the
same parsers `pps collect`, `pps stats` and `pps plot` use, so every default is filled in as
the workflow's jobs filled it in. What a set holds and how it is checked:
`pps.analysis.reference_set`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from pps import plan
from pps.analysis import reference_set
from pps.analysis.reference_set import AnalysisOptions, PackageConfig, PlotOptions, StatsOptions
from pps.cli import collect as collect_cli
from pps.cli import plot as plot_cli
from pps.cli import stats as stats_cli
from pps.errors import UserError
from pps.run_folder import NO_INTERVAL

DIFFERENCES_EXIT = 1  # `--check` found a difference (2 stays a user error, as everywhere)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keeps the examples' lines
    parser.epilog = ("examples:\n"
                     "  pps evidence --configfile workflow/config/evidence-mpe.yaml \\\n"
                     "               --out docs/evidence/2026-12-05-evidence-mpe\n"
                     "  pps evidence --check docs/evidence/2026-12-05-evidence-mpe")
    parser.add_argument("--configfile", type=Path, default=None, metavar="PRESET",
                        help="the preset the workflow ran (workflow/config/<preset>.yaml): its analysis options, its "
                             "grid (every run must be finished) and a copy of it go into the set")
    parser.add_argument("--results", type=Path, default=None, metavar="DIR",
                        help="the results folder the workflow wrote: runs/, final.csv, curves.csv and the stats "
                             "tables (default: the preset's results_dir)")
    parser.add_argument("--figures", type=Path, default=None, metavar="DIR",
                        help="the figures folder the workflow wrote; its full-width <name>.png go into the set "
                             "(default: the preset's figures_dir)")
    parser.add_argument("--out", type=Path, default=None, metavar="SET",
                        help="the set folder to write, docs/evidence/<date>-<preset>; new or empty (see --force), "
                             "written whole or not at all")
    parser.add_argument("--allow-mixed-commits", action="store_true",
                        help="package runs trained at more than one git commit (the manifest lists each)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out")
    parser.add_argument("--check", type=Path, default=None, metavar="SET",
                        help="check the set SET instead: regenerate its tables from its final.csv and curves.csv "
                             "with its manifest's options and compare them byte for byte, check that pps plot makes "
                             "every PNG name, and every file's sha256; lists every difference, exit code 1 if any")


def _parsed(command: ModuleType, words: list[str]) -> argparse.Namespace:
    """`words` as the command's own parser reads them: every option the workflow does not pass
    gets the command's default, exactly as in the workflow's job."""
    parser = argparse.ArgumentParser(prog=f"pps {command.__name__.rsplit('.', 1)[-1]}")
    command.add_arguments(parser)
    return parser.parse_args(words)


def workflow_options(cfg: dict[str, Any]) -> AnalysisOptions:
    """The options of `pps collect`, `pps stats` and `pps plot` in the workflow's jobs for this
    (checked) preset."""
    collected = _parsed(collect_cli, plan.collect_args(cfg))
    return AnalysisOptions(final_window=collected.final_window,
                           stats=StatsOptions(**stats_cli.keywords(_parsed(stats_cli, plan.stats_args(cfg)))),
                           plot=PlotOptions(**plot_cli.keywords(_parsed(plot_cli, plan.figure_args(cfg)))))


def grid_keys(cfg: dict[str, Any], report: reference_set.Report) -> tuple[reference_set.RunKey, ...]:
    """Every run the workflow plans for this preset, as `Run.key`s."""
    maps, left_out = plan.grid_maps(cfg)
    if left_out:
        report(f"warning: {left_out}")
    return tuple((r["env"], r["map"], r["method"], None if r["interval"] == NO_INTERVAL else int(r["interval"]),
                  int(r["seed"])) for r in plan.grid(cfg, maps))


def _report(text: str) -> None:
    print(f"pps evidence: {text}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    if args.check is not None:
        given = [flag for flag, value in (("--configfile", args.configfile), ("--results", args.results),
                                          ("--figures", args.figures), ("--out", args.out),
                                          ("--allow-mixed-commits", args.allow_mixed_commits),
                                          ("--force", args.force)) if value]
        if given:
            raise UserError(f"--check takes only the set folder; leave out {', '.join(given)} (a set's manifest "
                            f"holds its options).")
        result = reference_set.check(args.check, report=_report)
        for line in result.differences:
            print(f"pps evidence: {line}")
        print(f"pps evidence: {result.line()}")
        return 0 if result.ok else DIFFERENCES_EXIT
    if args.configfile is None or args.out is None:
        missing = " and ".join(f for f, v in (("--configfile", args.configfile), ("--out", args.out)) if v is None)
        raise UserError(f"making a reference set needs {missing} (e.g. --configfile workflow/config/evidence-mpe.yaml "
                        f"--out docs/evidence/<date>-evidence-mpe); --check SET checks an existing one.")
    cfg = plan.load_preset(args.configfile)
    config = PackageConfig(
        results=args.results or Path(plan.results_dir(cfg)), figures=args.figures or Path(plan.figures_dir(cfg)),
        preset=args.configfile, out=args.out, options=workflow_options(cfg), expected_runs=grid_keys(cfg, _report),
        allow_mixed_commits=args.allow_mixed_commits, force=args.force)
    print(f"pps evidence: {reference_set.package(config, report=_report)}")
    return 0
