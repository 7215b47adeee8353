"""`pps train`: one run, resumable, from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pps import allocator
from pps.config import load_config_file, parse_set_items, resolve_config
from pps.errors import UserError
from pps.host_memory import check_fits
from pps.run_folder import default_out_dir, seed_folder


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", help="backend: smax (default) or smac")
    p.add_argument("--map", help="map name, e.g. 3m (see `pps maps`)")
    p.add_argument("--method", help="qmix | vdn | qmix-ns | a-pps | rs-pps | pp-pps")
    # Numbers stay text here: resolve_config types and checks them like every other run key,
    # so a bad value reads the same whether it came from a flag, --set or a YAML file.
    p.add_argument("--interval", help="learner updates between aggregations (PPS methods; default 300)")
    p.add_argument("--seed", help="run seed, 0 to 2**32 - 1 (default 0)")
    p.add_argument("--seeds", nargs="+", metavar="SEED",
                   help="train several seeds of this cell in one process (a run group, docs/design.md §3); "
                        "each run still writes its own folder <out>/seed<S>")
    p.add_argument("--t-max", dest="t_max", help="environment steps to train")
    p.add_argument("--out", type=Path,
                   help="run folder (default results/runs/<env>/<map>/<method>/<interval|->/seed<S>); "
                        "with --seeds, the folder that holds the runs' seed<S> folders")
    p.add_argument("--config", type=Path, help="YAML of run keys, or a workflow preset (its `run:` section)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[], help="override any run key (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    file_keys = load_config_file(args.config) if args.config else {}
    set_keys = parse_set_items(args.set)
    flags = {k: getattr(args, k) for k in ("env", "map", "method", "interval", "seed", "t_max")
             if getattr(args, k) is not None}
    if args.seeds is not None and args.seed is not None:
        raise UserError("give --seed (one run) or --seeds (a run group), not both.")
    seeds = args.seeds if args.seeds is not None else [flags.pop("seed", None)]
    configs = [resolve_config(file_keys, set_keys, dict(flags, **({} if s is None else {"seed": s}))) for s in seeds]
    if len({c.seed for c in configs}) != len(configs):
        raise UserError(f"--seeds lists a seed twice: {' '.join(str(c.seed) for c in configs)}.")
    # Imported here, not at the top: they import torch (and `pps train --help` should not), and
    # jax's CPU threads must be pinned before anything imports jax.
    from pps.envs.smax import pin_jax_cpu_threads

    pin_jax_cpu_threads(configs[0].threads)
    allocator.retain_freed_memory()  # the learner's large tensors are reused, not faulted in every update
    from pps.devices import NATIVE_BF16_FLAGS, native_bf16
    from pps.train import run_group

    if args.seeds is None:
        outs = [args.out or default_out_dir(configs[0])]
    else:
        outs = [(args.out / seed_folder(c.seed)) if args.out else default_out_dir(c) for c in configs]
    check_fits(configs)  # before the run folders are made: a refused run leaves nothing behind
    if configs[0].matmul_precision == "bf16" and native_bf16(configs[0].device) is False:
        print(f"note: matmul_precision bf16 on a {configs[0].device} without native bfloat16 multiplies "
              f"(flags {', '.join(NATIVE_BF16_FLAGS)}): torch emulates them, and the learner runs slower than "
              f"at fp32 (measured 3.5-4.7x slower per update on an AVX2-only CPU).", file=sys.stderr)
    for out in outs:
        if out.exists() and not out.is_dir():
            raise UserError(f"--out '{out}' exists and is not a folder.")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"--out '{out}' cannot be created: {err.strerror or err}.") from None
    outcomes = run_group(configs, outs, show_progress=not args.quiet)
    for outcome, out in zip(outcomes, outs):
        print(f"{outcome}: {out}", file=sys.stderr)
    return 0
