"""`pps train`: one run, resumable, from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pps.config import load_config_file, parse_set_items, resolve_config
from pps.errors import UserError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", help="backend: smax (default) or smac")
    p.add_argument("--map", help="map name, e.g. 3m (see `pps maps`)")
    p.add_argument("--method", help="qmix | vdn | qmix-ns | a-pps | rs-pps | pp-pps")
    # Numbers stay text here: resolve_config types and checks them like every other run key,
    # so a bad value reads the same whether it came from a flag, --set or a YAML file.
    p.add_argument("--interval", help="learner updates between aggregations (PPS methods; default 300)")
    p.add_argument("--seed", help="run seed, 0 to 2**32 - 1 (default 0)")
    p.add_argument("--t-max", dest="t_max", help="environment steps to train")
    p.add_argument("--out", type=Path, help="run folder (default results/runs/<env>/<map>/<method>/<interval|->/seed<S>)")
    p.add_argument("--config", type=Path, help="YAML of run keys, or a workflow preset (its `run:` section)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[], help="override any run key (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    file_keys = load_config_file(args.config) if args.config else {}
    set_keys = parse_set_items(args.set)
    flags = {k: getattr(args, k) for k in ("env", "map", "method", "interval", "seed", "t_max")
             if getattr(args, k) is not None}
    config = resolve_config(file_keys, set_keys, flags)
    from pps.envs.smax import pin_jax_cpu_threads

    pin_jax_cpu_threads(config.threads)
    from pps.run_record import default_out_dir
    from pps.train import run_training

    out = args.out or default_out_dir(config)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out '{out}' exists and is not a folder.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--out '{out}' cannot be created: {err.strerror or err}.") from None
    outcome = run_training(config, out, show_progress=not args.quiet)
    print(f"{outcome}: {out}", file=sys.stderr)
    return 0
