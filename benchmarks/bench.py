"""Thin entry point: `python benchmarks/bench.py [--quick] [...]` == `pps bench [...]`."""

import sys

from pps.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
