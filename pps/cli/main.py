"""The `pps` command line: train, maps, references, collect, stats, plot, overhead, scaling, compare, export,
evidence, calibrate and bench.

Each subcommand lives in the module that owns its concept and exposes
`add_arguments(parser)` and `run(args) -> int`; this file only wires them up and turns a
`UserError` into a one-paragraph message with exit code 2 (no traceback). An old command name
(`ALIASES`) still works for a release and says, in one line on stderr, which name replaced it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib import metadata
from typing import NoReturn

from pps.errors import UserError

# name -> (module, one-line help). Modules are imported only when their command runs, so
# `pps maps` or `pps stats` never pay for importing torch or jax.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("pps.cli.train", "train one run (env x map x method x interval x seed)"),
    "maps": ("pps.cli.maps", "list every (env, map) pair and which backends work here"),
    "references": ("pps.cli.references", "measure random and reference returns of return-scored tasks (MPE)"),
    "collect": ("pps.cli.collect", "collect runs into results/curves.csv and final.csv"),
    "stats": ("pps.cli.stats", "statistics, convergence and claims tables"),
    "plot": ("pps.cli.plot", "the paper's figures as PNG and PDF"),
    "overhead": ("pps.cli.overhead", "where each run's wall-clock went, and each method's cost over the baseline"),
    "scaling": ("pps.cli.scaling", "score gain and cost against the number of agents (maps with >= 2 agent counts)"),
    "compare": ("pps.cli.compare",
                "two folders of runs that differ in one setting (e.g. matmul_precision): did learning change?"),
    "export": ("pps.cli.export", "per-episode evaluations of every run as marl-eval's JSON (results/marl_eval.json)"),
    "evidence": ("pps.cli.evidence",
                 "package a finished workflow run as a reference set (docs/evidence/) or --check one byte for byte"),
    "calibrate": ("pps.cli.calibrate",
                  "error rates of the claim verdicts on simulated grids (~11 min; --write stores them for claims.md)"),
    "bench": ("pps.cli.bench",
              "speed benchmarks (learner, aggregation, env, end-to-end, memory; --groups: run groups vs processes)"),
}
# old name -> the command that replaced it
ALIASES: dict[str, str] = {"aggregate": "collect"}


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (exit code 2), like a `UserError`: argparse's default
    prints the whole usage block first, which buries the one line that says what was wrong."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}. See '{self.prog} --help'.\n")


def version() -> str:
    """The installed distribution's version (what a bug report or a results README should quote)."""
    try:
        return metadata.version("pps-bench")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser(argv: list[str]) -> tuple[argparse.ArgumentParser, str | None]:
    parser = _Parser(prog="pps", description="pps-bench: periodically parameter-shared MARL benchmarks")
    parser.add_argument("--version", action="version", version=f"pps-bench {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    old_names = [(old, (COMMANDS[new][0], f"old name of `pps {new}`")) for old, new in ALIASES.items()]
    entries = [*COMMANDS.items(), *old_names]
    for name, (module_name, help_text) in entries:
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:  # only the chosen command's module is imported
            module = importlib.import_module(module_name)
            module.add_arguments(sp)
            sp.set_defaults(_run=module.run)
    return parser, chosen


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, chosen = build_parser(argv)
    args = parser.parse_args(argv)
    if chosen is None or not hasattr(args, "_run"):
        parser.print_help()
        return 2
    if chosen in ALIASES:
        print(f"pps {chosen}: this is the old name of `pps {ALIASES[chosen]}`, which it runs; use that name",
              file=sys.stderr)
    try:
        return int(args._run(args) or 0)
    except UserError as err:
        print(f"pps {chosen}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `pps maps | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"pps {chosen}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
