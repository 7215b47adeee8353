"""`pps bench`: run the speed/memory benchmarks, print a table, write JSON to results/bench/.

    pps bench --quick          # < 3 minutes on 2 cores: N = 3, 8; every figure once
    pps bench                  # full: adds N = 27 (27m_vs_30m), more repeats, 8m env throughput
    pps bench --device cuda    # learner-update benchmarks on the GPU (others stay on the CPU)
    pps bench --only learner,memory
    pps bench --groups         # run groups vs separate processes: maps x batch x S
    pps bench --cost           # what the paper and claims grids cost, map by map (+ --jaxmarl PATH)

Output: `results/bench/<mode>[-cuda].json` (settings, host, versions, every measured row,
the targets) and the same tables as Markdown in `<mode>[-cuda].md`, both written atomically;
`--groups` writes a tidy CSV (default `results/bench/groups.csv`) and `groups.json` beside it;
`--cost` writes `cost.json` and `cost.md`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from pps import allocator, atomic
from pps.bench.common import full_settings, host_record, quick_settings, say, smoke_settings
from pps.bench.targets import evaluate_targets
from pps.errors import UserError

# The benchmarks themselves, pandas and torch are imported where they are needed, not at the
# top: `pps bench --help` stays quick, and jax's CPU threads are pinned before anything
# imports jax (`run`).

BENCHES = ("learner", "aggregation", "env", "e2e", "memory")


def add_arguments(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="N = 3 and 8 only, fewer repeats (< 3 min on 2 cores)")
    mode.add_argument("--smoke", action="store_true",
                      help="plumbing check for the test suite: tiny sizes, one repeat; the figures mean nothing")
    mode.add_argument("--groups", action="store_true",
                      help="run groups: S seeds in one `pps train --seeds` process vs S separate "
                           "processes, for every map x batch size x S; writes a CSV (see the --groups options)")
    mode.add_argument("--cost", action="store_true",
                      help="what each preset's grid costs: per map, env steps/s, learner ms/update and projected "
                           "CPU-hours of the paper and claims presets; with --jaxmarl, JaxMARL's qmix_rnn back to "
                           "back (see the --cost options)")
    p.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(BENCHES)} (default: all)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="device of the learner-update benchmarks (default cpu); the others always run on the CPU")
    p.add_argument("--threads", type=int, default=1, help="torch (and XLA) CPU threads (default 1, as `pps train`)")
    p.add_argument("--repeats", type=int, help="timed repeats of each learner update (default: 5 quick, 10 full)")
    p.add_argument("--episode-len", type=int, dest="episode_len",
                   help="T of the learner benchmark's episodes (default 60)")
    p.add_argument("--batch", type=int, help="episodes per learner batch (default 32)")
    p.add_argument("--fill", type=float,
                   help="share of the learner batch's steps that are real, the rest padding (default 0.7)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("results/bench"), help="output folder (default results/bench)")
    p.add_argument("--strict", action="store_true", help="exit with status 1 if any target FAILs")
    g = p.add_argument_group("--groups options")
    g.add_argument("--sizes", type=int, nargs="+", metavar="S", help="run-group sizes S (default 1 5 10)")
    g.add_argument("--maps", nargs="+", metavar="MAP", help="maps (default 3m 8m)")
    g.add_argument("--batch-sizes", type=int, nargs="+", dest="batch_sizes", metavar="B",
                   help="learner batch sizes (default: batch_size of the default preset, then of paper.yaml)")
    g.add_argument("--t-max", type=int, dest="t_max", help="env steps per run (default 3000)")
    g.add_argument("--cores", type=int, help="separate processes alive at once, as `snakemake --cores` (default 2)")
    g.add_argument("--env", help="backend (default smax)")
    g.add_argument("--method", help="method of every run (default qmix)")
    g.add_argument("--preset", type=Path,
                   help="preset whose `run:` keys the runs use (default workflow/config/default.yaml)")
    g.add_argument("--csv", type=Path, help="output CSV (default <--out>/groups.csv); groups.json is written beside it")
    g.add_argument("--no-warmup", action="store_false", dest="warmup",
                   help="skip the tiny run per map that warms the persistent JAX compile cache first")
    g.add_argument("--keep", action="store_true", help="keep the temporary run folders and logs (path printed)")
    c = p.add_argument_group("--cost options (and --maps: default 3m 8m 2s3z 3s_vs_5z 25m simple_spread_v3)")
    c.add_argument("--presets", type=Path, nargs="+", metavar="PRESET",
                   help="presets whose grids are costed (default workflow/config/paper.yaml claims.yaml)")
    c.add_argument("--steps", type=int, help="env steps timed per preset x map, after the warm-up (default 3000)")
    c.add_argument("--jaxmarl", type=Path, metavar="PATH",
                   help="root of a JaxMARL checkout: also time its baselines/QLearning/qmix_rnn.py against this "
                        "suite at one schedule (needs pip install -e \".[jaxmarl-baseline]\")")
    c.add_argument("--jaxmarl-maps", nargs="+", metavar="MAP", help="maps of the JaxMARL comparison (default 3m 8m)")
    c.add_argument("--jaxmarl-timesteps", type=int, nargs=2, metavar=("SMALL", "LARGE"),
                   help="JaxMARL's two run lengths, whose difference is timed (default 40960 81920)")


def _settings(args: argparse.Namespace):
    only = tuple(x.strip() for x in args.only.split(",") if x.strip())
    unknown = [x for x in only if x not in BENCHES]
    if unknown:
        raise UserError(f"--only: unknown benchmark(s) {', '.join(unknown)}; valid: {', '.join(BENCHES)}.")
    if args.threads <= 0:
        raise UserError(f"--threads must be a positive integer, got {args.threads}.")
    make = smoke_settings if args.smoke else quick_settings if args.quick else full_settings
    s = make(device=args.device, threads=args.threads, seed=args.seed, only=only)
    for key in ("repeats", "episode_len"):
        value = getattr(args, key)
        if value is not None:
            if value <= 0:
                raise UserError(f"--{key.replace('_', '-')} must be a positive integer, got {value}.")
            setattr(s, key, value)
    if args.batch is not None:
        if args.batch <= 0:
            raise UserError(f"--batch must be a positive integer, got {args.batch}.")
        s.batch_episodes = args.batch
    if args.fill is not None:
        if not 0.0 < args.fill <= 1.0:
            raise UserError(f"--fill must be in (0, 1], the share of real steps in a batch, got {args.fill}.")
        s.fill = args.fill
    return s


def format_tables(rows: list[dict[str, Any]], targets: list[dict[str, Any]]) -> tuple[str, str]:
    """(plain text for stdout, Markdown) of the measurements and the targets."""
    import pandas as pd  # only once there are rows to print (see run())

    def fmt(v: Any) -> str:
        if v is None:
            return "-"
        v = float(v)
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}" if abs(v) >= 0.01 else f"{v:.2e}"

    m = pd.DataFrame([{"benchmark": r["bench"], "case": r["case"], "value": fmt(r["value"]), "unit": r["unit"]}
                      for r in rows])
    t = pd.DataFrame([{"target": x["target"], "case": x["case"], "measured": f"{x['measured']:.3g}",
                       "limit": f"{x['op']} {x['limit']:g}", "result": x["result"]} for x in targets])
    text = ["MEASUREMENTS", m.to_string(index=False) if len(m) else "(none)", "",
            "TARGETS", t.to_string(index=False) if len(t) else "(none)"]
    md = ["| benchmark | case | value | unit |", "| --- | --- | ---: | --- |"]
    md += [f"| {r.benchmark} | {r.case} | {r.value} | {r.unit} |" for r in m.itertuples()]
    md += ["", "| target | case | measured | limit | result |", "| --- | --- | ---: | --- | --- |"]
    md += [f"| {r.target} | {r.case} | {r.measured} | {r.limit} | {r.result} |" for r in t.itertuples()]
    return "\n".join(text), "\n".join(md) + "\n"


COST_OPTIONS = ("presets", "steps", "jaxmarl", "jaxmarl_maps", "jaxmarl_timesteps")
GROUP_OPTIONS = ("sizes", "maps", "batch_sizes", "t_max", "cores", "env", "method", "preset", "csv", "keep")
# options of the other benchmarks, with their defaults: given with --groups they would be ignored
OTHER_OPTIONS = {"only": "", "device": "cpu", "threads": 1, "repeats": None, "episode_len": None, "batch": None,
                 "seed": 0, "strict": False}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _group_settings(args: argparse.Namespace):
    from pps.bench.groups import GroupBenchSettings  # pandas and torch: only for --groups (see run())

    wrong = [_flag(k) for k, default in OTHER_OPTIONS.items() if getattr(args, k) != default]
    wrong += [_flag(k) for k in COST_OPTIONS if getattr(args, k) is not None]
    if wrong:
        raise UserError(f"{', '.join(wrong)} {'does' if len(wrong) == 1 else 'do'} not apply to --groups (its runs "
                        f"use the preset's run keys, seeds 0..S-1 and threads=1); see the '--groups options' in "
                        f"`pps bench --help`.")
    s = GroupBenchSettings()
    for key in ("sizes", "maps", "batch_sizes"):
        if getattr(args, key) is not None:
            setattr(s, key, tuple(getattr(args, key)))
    for key in ("t_max", "cores", "env", "method", "preset"):
        if getattr(args, key) is not None:
            setattr(s, key, getattr(args, key))
    s.warmup, s.keep = args.warmup, args.keep
    return s


def run_groups(args: argparse.Namespace) -> int:
    from pps.bench.groups import bench_groups, csv_text, format_table, metadata, resolve_cells  # see run()

    s = _group_settings(args)
    csv_path = args.csv or args.out / "groups.csv"
    if csv_path.exists() and csv_path.is_dir():
        raise UserError(f"--csv '{csv_path}' is a folder; give a file path.")
    resolve_cells(s)  # every option checked before anything runs
    started = time.perf_counter()
    say(f"groups: env={s.env} maps={','.join(s.maps)} S={','.join(map(str, s.sizes))} t_max={s.t_max} "
        f"cores={s.cores} method={s.method}")
    rows = bench_groups(s)
    wall = time.perf_counter() - started
    atomic.write_text(csv_path, csv_text(rows))
    atomic.write_json(csv_path.with_suffix(".json"), dict(metadata(s, wall), rows=rows))
    print(format_table(rows))
    say(f"groups: done in {wall:.0f} s; wrote {csv_path} and {csv_path.with_suffix('.json').name}")
    return 0


def _cost_settings(args: argparse.Namespace):
    from pps.bench.cost import CostBenchSettings

    wrong = [_flag(k) for k in GROUP_OPTIONS if k != "maps" and getattr(args, k) not in (None, False)]
    wrong += [_flag(k) for k, default in OTHER_OPTIONS.items() if k not in ("threads", "seed")
              and getattr(args, k) != default]
    wrong += [] if args.warmup else ["--no-warmup"]
    if wrong:
        raise UserError(f"{', '.join(wrong)} {'does' if len(wrong) == 1 else 'do'} not apply to --cost; see the "
                        f"'--cost options' in `pps bench --help`.")
    s = CostBenchSettings(threads=args.threads, seed=args.seed)
    if args.maps:
        s.maps = tuple(args.maps)
    if args.presets:
        s.presets = tuple(args.presets)
    if args.steps is not None:
        if args.steps <= 0:
            raise UserError(f"--steps must be a positive integer, got {args.steps}.")
        s.steps = args.steps
    if args.jaxmarl_timesteps and not 0 < args.jaxmarl_timesteps[0] < args.jaxmarl_timesteps[1]:
        raise UserError(f"--jaxmarl-timesteps SMALL LARGE needs 0 < SMALL < LARGE, got "
                        f"{' '.join(map(str, args.jaxmarl_timesteps))}.")
    return s


def run_cost(args: argparse.Namespace) -> int:
    s = _cost_settings(args)
    from pps.envs.smax import pin_jax_cpu_threads

    pin_jax_cpu_threads(s.threads)  # as `pps train`, before jax is imported
    allocator.retain_freed_memory()
    from pps.bench import cost as cost_bench
    from pps.bench import jaxmarl

    if args.jaxmarl is not None:  # the maps are checked by `bench_cost`, before it times any
        jaxmarl.check_checkout(args.jaxmarl)  # before an hour of timing, not after
        for map_name in args.jaxmarl_maps or ():
            if cost_bench.env_of(map_name) != "smax":
                raise UserError(f"--jaxmarl-maps: '{map_name}' is not a SMAX map; JaxMARL's qmix_rnn is timed on SMAX.")
    elif args.jaxmarl_maps or args.jaxmarl_timesteps:
        raise UserError("--jaxmarl-maps and --jaxmarl-timesteps need --jaxmarl PATH.")
    started = time.perf_counter()
    rows, totals = cost_bench.bench_cost(s)
    compared = []
    if args.jaxmarl is not None:
        small, large = args.jaxmarl_timesteps or (40960, 81920)
        logs = args.out / "jaxmarl-logs"
        logs.mkdir(parents=True, exist_ok=True)
        claims = cost_bench.read_preset(cost_bench.PRESETS[1])
        matched = dict(claims, run={**claims.get("run", {}), **jaxmarl.OURS})
        for map_name in args.jaxmarl_maps or ("3m", "8m"):
            say(f"jaxmarl {map_name}: qmix_rnn.py at {small} timesteps")
            first = jaxmarl.fastest(args.jaxmarl, map_name, small, logs / f"{map_name}-{small}.log", s.seed)
            ours = cost_bench.time_run("matched", matched, map_name, s)
            say(f"jaxmarl {map_name}: qmix_rnn.py at {large} timesteps")
            second = jaxmarl.fastest(args.jaxmarl, map_name, large, logs / f"{map_name}-{large}.log", s.seed)
            compared.append(jaxmarl.jaxmarl_row(map_name, first, second, ours))
            say(f"jaxmarl {map_name}: JaxMARL {compared[-1]['jaxmarl_steps_per_s']:,.0f} env steps/s, "
                f"this suite {ours['env_steps_per_s']:,.0f}")
    wall = round(time.perf_counter() - started, 1)
    record = {"schema": 1, "host": host_record(s), "settings": s.as_dict(), "wall_s": wall, "rows": rows,
              "totals": totals, "jaxmarl": compared,
              "jaxmarl_schedule": jaxmarl.SCHEDULE if compared else None}
    md = cost_bench.markdown(rows, totals, compared)
    atomic.write_json(args.out / "cost.json", record)
    atomic.write_text(args.out / "cost.md", md)
    print(md)
    say(f"cost: done in {wall:.0f} s; wrote {args.out / 'cost.json'} and cost.md")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.groups:
        return run_groups(args)
    if args.cost:
        return run_cost(args)
    given = [_flag(k) for k in GROUP_OPTIONS if getattr(args, k) not in (None, False)]
    cost_given = [_flag(k) for k in COST_OPTIONS if getattr(args, k) is not None]
    if cost_given:
        raise UserError(f"{', '.join(cost_given)} {'belongs' if len(cost_given) == 1 else 'belong'} to --cost; "
                        f"add --cost or leave {'it' if len(cost_given) == 1 else 'them'} out.")
    given += [] if args.warmup else ["--no-warmup"]
    if given:
        raise UserError(f"{', '.join(given)} {'belongs' if len(given) == 1 else 'belong'} to --groups; "
                        f"add --groups or leave {'it' if len(given) == 1 else 'them'} out.")
    s = _settings(args)
    # The imports below sit here on purpose: jax's and torch's thread counts must be set before
    # either is first imported, and each benchmark module (torch, jax, pandas) is loaded only
    # when it is selected, so `pps bench --help` and a bad flag answer at once.
    from pps.envs.smax import pin_jax_cpu_threads

    pin_jax_cpu_threads(s.threads)  # as `pps train`, before jax is imported
    allocator.retain_freed_memory()  # as `pps train`
    import torch

    torch.set_num_threads(s.threads)
    selected = s.only or BENCHES
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    say(f"mode={s.mode} device={s.device} threads={s.threads} benches={','.join(selected)}")
    if "learner" in selected:
        from pps.bench.learner import bench_learner

        if s.device == "cuda" and not torch.cuda.is_available():
            msg = "--device cuda: torch sees no CUDA device here; skipping the CUDA learner-update benchmarks"
            print(f"pps bench: {msg}", file=sys.stderr)
            skipped.append(msg)
        else:
            rows += bench_learner(s, torch.device(s.device))
    if "aggregation" in selected:
        from pps.bench.aggregation import bench_aggregation

        rows += bench_aggregation(s)
    if "env" in selected:
        from pps.bench.envs import bench_envs

        rows += bench_envs(s)
    if "e2e" in selected:
        from pps.bench.end_to_end import bench_end_to_end

        rows += bench_end_to_end(s)
    if "memory" in selected:
        from pps.bench.memory import bench_memory

        rows += bench_memory(s)
    targets = evaluate_targets(rows, s.interval)
    text, md = format_tables(rows, targets)
    name = s.mode + ("-cuda" if s.device == "cuda" else "")
    record = {
        "schema": 1,
        "mode": s.mode,
        "host": host_record(s),
        "settings": s.as_dict(),
        "wall_s": round(time.perf_counter() - started, 2),
        "skipped": skipped,
        "rows": rows,
        "targets": targets,
    }
    atomic.write_json(args.out / f"{name}.json", record)
    atomic.write_text(args.out / f"{name}.md", md)
    print(text)
    say(f"done in {record['wall_s']:.0f} s; wrote {args.out / (name + '.json')} and .md")
    failed = [t for t in targets if t["result"] == "FAIL"]
    return 1 if (args.strict and failed) else 0
