"""The `pps` command line: one module per command, each with `add_arguments(parser)` and
`run(args) -> int`; `pps.cli.main` wires them up."""

from pps.cli.main import main

__all__ = ["main"]
