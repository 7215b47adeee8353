"""`pps bench --groups`: a run group of S seeds in one process vs S separate processes.

For every map x batch size x S, the same S runs (seeds 0..S-1, one cell, identical run keys)
are trained twice, each time from fresh folders:

* `group`: one `pps train --seeds 0 .. S-1` process (`pps.train.run_group`);
* `separate`: S `pps train --seed s` processes, at most `cores` at a time (what
  `snakemake --cores C` does with one-thread jobs), the next starting when one ends.

Wall-clock is the whole batch, first launch to last exit, so it includes for both sides
each process's start-up (Python, torch, jax and jaxmarl imports), env construction, JAX
compilation (or its load from the persistent cache), training, evaluation and the final
writes. The persistent JAX compile cache is warmed first by one tiny run per map with the
same run keys, so neither side pays a cold compile the other does not (a process still
loads or compiles its executables itself: S separate processes do that S times, which is
part of what a group saves). Results:

* total env steps/s = sum of the runs' `t_env` / batch wall-clock, and group/separate;
* the same per process slot: the group uses one core, the separate side up to `cores`
  (`min(cores, S)`), so `speed_ratio_per_proc` compares the two per core in use;
* peak memory per run (group: the process's `peak_rss_mb` / S; separate: the mean over
  processes), and group/separate;
* where the trainer's time goes (`frac_<section>` from run.json's `time_s`; for a group the
  group's sections, for separate runs the sum over runs), and `startup_s`: per process,
  its wall-clock minus its trainer's `wall_s` (imports, compile or cache load, writes).

The CSV is tidy: one row per map x batch x S x mode; the ratios of a (map, batch, S) cell
are repeated on both of its rows and are computed from the rows (`add_ratios`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pps import provenance
from pps.bench.common import preset_path, say
from pps.config import RUN_KEYS, RunConfig, load_config_file, resolve_config
from pps.envs import registry
from pps.errors import UserError
from pps.float_format import FLOAT_FORMAT
from pps.run_folder import RUN_JSON, seed_folder
from pps.timing import SECTIONS

MODES = ("group", "separate")
DEFAULT_PRESET = Path("workflow/config/default.yaml")
PAPER_PRESET = Path("workflow/config/paper.yaml")
WARMUP_T_MAX = 200  # steps of the cache-warming run: step 0 and final evaluations + one training iteration

COLUMNS = (
    "env", "map", "method", "batch_size", "group_size", "mode", "t_max", "cores", "procs", "runs",
    "t_env_total", "wall_s", "steps_per_s", "steps_per_s_per_proc", "speed_ratio", "speed_ratio_per_proc",
    "peak_rss_mb_proc", "peak_rss_mb_per_run", "mem_ratio", "startup_s", "train_s",
    *(f"frac_{s}" for s in SECTIONS),
)


@dataclass
class GroupBenchSettings:
    """Everything that sizes `pps bench --groups`; recorded verbatim beside the CSV."""

    env: str = "smax"
    maps: tuple[str, ...] = ("3m", "8m")
    sizes: tuple[int, ...] = (1, 5, 10)
    batch_sizes: tuple[int, ...] | None = None  # None: the default and paper presets' batch_size
    t_max: int = 3000
    cores: int = 2
    method: str = "qmix"
    preset: Path = DEFAULT_PRESET  # the other run keys come from its `run:` section
    paper_preset: Path = PAPER_PRESET  # only its batch_size is read
    warmup: bool = True
    keep: bool = False  # keep the temporary run folders (their path is printed)
    extra_keys: dict[str, Any] = field(default_factory=dict)  # run keys over the preset's (tests)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["preset"], d["paper_preset"] = str(self.preset), str(self.paper_preset)
        return d


def preset_run_keys(path: Path) -> dict[str, Any]:
    return load_config_file(preset_path(path))


def default_batch_sizes(preset: Path, paper_preset: Path) -> tuple[int, ...]:
    """The default preset's batch_size and the paper preset's (package default where a preset
    leaves it out), in that order, once each."""
    out: list[int] = []
    for path in (preset, paper_preset):
        value = preset_run_keys(path).get("batch_size", RunConfig.batch_size)
        if not isinstance(value, int) or isinstance(value, bool):
            raise UserError(f"{path}: run.batch_size must be an integer, got {value!r}.")
        if value not in out:
            out.append(value)
    return tuple(out)


def _positive_ints(name: str, values: Sequence[Any], allow_empty: bool = False) -> tuple[int, ...]:
    values = tuple(values)
    if not values and not allow_empty:
        raise UserError(f"{name} needs at least one value.")
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int) or v <= 0]
    if bad:
        raise UserError(f"{name} must be positive integers, got {', '.join(map(repr, bad))}.")
    if len(set(values)) != len(values):
        raise UserError(f"{name} lists a value twice: {' '.join(map(str, values))}.")
    return values


def resolve_cells(s: GroupBenchSettings) -> dict[tuple[str, int], dict[str, Any]]:
    """Check the settings and return the run keys of every (map, batch size) cell, seed left
    out. Raises a UserError naming what is wrong (before any process starts)."""
    _positive_ints("--sizes", s.sizes)
    for name, value in (("--t-max", s.t_max), ("--cores", s.cores)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise UserError(f"{name} must be a positive integer, got {value!r}.")
    if not s.maps:
        raise UserError("--maps needs at least one map.")
    if len(set(s.maps)) != len(s.maps):
        raise UserError(f"--maps lists a map twice: {' '.join(s.maps)}.")
    batches = _positive_ints("--batch-sizes", s.batch_sizes) if s.batch_sizes is not None else \
        default_batch_sizes(s.preset, s.paper_preset)
    base = preset_run_keys(s.preset)
    cells: dict[tuple[str, int], dict[str, Any]] = {}
    for map_name in s.maps:
        for batch in batches:
            keys = dict(base, **s.extra_keys, env=s.env, map=map_name, method=s.method, batch_size=batch,
                        t_max=s.t_max, threads=1)
            try:  # unknown map/method/key, batch > buffer_size: one line naming what is valid
                config = resolve_config(keys)
            except UserError as err:
                raise UserError(f"--groups cell map={map_name} batch_size={batch}: {err}") from None
            cells[(map_name, batch)] = {k: v for k, v in config.to_dict().items() if k != "seed" and k in RUN_KEYS}
    ok, why = registry.backend_available(s.env)
    if not ok:
        raise UserError(f"--env {s.env}: the backend cannot run here: {why}")
    return cells


# ---- running processes -----------------------------------------------------------------


@dataclass
class _Proc:
    label: str
    cmd: list[str]
    log: Path
    outs: list[Path]
    popen: subprocess.Popen | None = None
    started: float = 0.0
    wall_s: float = 0.0


def _train_cmd(config_file: Path, seeds: Sequence[int], out: Path, group: bool) -> list[str]:
    cmd = [sys.executable, "-m", "pps.cli", "train", "--config", str(config_file), "--quiet"]
    if group:
        return cmd + ["--seeds", *map(str, seeds), "--out", str(out)]
    return cmd + ["--seed", str(seeds[0]), "--out", str(out)]


def run_processes(procs: list[_Proc], cores: int) -> float:
    """Run `procs` with at most `cores` alive at once, in order; the batch wall-clock in seconds
    (first launch to last exit). A failure stops the ones still running (started here) and
    raises a UserError quoting the end of the failed process's log."""
    pending, running = list(procs), []
    t0 = time.perf_counter()
    try:
        while pending or running:
            while pending and len(running) < cores:
                p = pending.pop(0)
                p.log.parent.mkdir(parents=True, exist_ok=True)
                with open(p.log, "wb") as log:
                    p.started = time.perf_counter()
                    p.popen = subprocess.Popen(p.cmd, stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL)
                running.append(p)
            time.sleep(0.02)
            for p in list(running):
                rc = p.popen.poll()
                if rc is None:
                    continue
                p.wall_s = time.perf_counter() - p.started
                running.remove(p)
                if rc != 0:
                    tail = p.log.read_text(errors="replace")[-2000:]
                    raise UserError(f"{p.label}: `{' '.join(p.cmd)}` exited with status {rc}; "
                                    f"end of its log ({p.log}):\n{tail}")
    finally:
        for p in running:
            if p.popen is not None and p.popen.poll() is None:
                p.popen.terminate()
                try:
                    p.popen.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.popen.kill()
    return time.perf_counter() - t0


def _read_run(out: Path) -> dict[str, Any]:
    path = out / RUN_JSON
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: no readable run.json after training ({err}).") from None
    if record.get("status") != "finished":
        raise UserError(f"{path}: status is {record.get('status')!r}, not 'finished'.")
    return record


def _measure(mode: str, procs: list[_Proc], wall_s: float, size: int) -> dict[str, Any]:
    """One CSV row's measured part from the finished processes' run.json files."""
    per_proc = [[_read_run(o) for o in p.outs] for p in procs]
    runs = [r for recs in per_proc for r in recs]
    if len(runs) != size:
        raise UserError(f"{mode}: expected {size} finished runs, found {len(runs)}.")
    t_env = sum(int(r["t_env"]) for r in runs)
    sections = {s: 0.0 for s in SECTIONS}
    startup, train, peaks = [], [], []
    for p, recs in zip(procs, per_proc):
        # the process's totals: run.json's group_cost (its top level is each run's share)
        totals = [r.get("group_cost") or r for r in recs]
        last = max(totals, key=lambda r: float(r["wall_s"]))  # a group's sections/peak as of its end
        for s in SECTIONS:
            sections[s] += float(last.get("time_s", {}).get(s, 0.0))
        train.append(float(last["wall_s"]))
        startup.append(p.wall_s - float(last["wall_s"]))
        peaks.append(max(float(r["peak_rss_mb"]) for r in totals))
    total = sum(sections.values()) or 1.0
    n_proc = len(procs)
    return {
        "runs": size, "t_env_total": t_env, "wall_s": round(wall_s, 3),
        "steps_per_s": round(t_env / wall_s, 2) if wall_s > 0 else None,
        "peak_rss_mb_proc": round(sum(peaks) / n_proc, 1),
        "peak_rss_mb_per_run": round(sum(peaks) / size, 1),  # group: peak / S; separate: mean of S peaks
        "startup_s": round(sum(startup) / n_proc, 3), "train_s": round(sum(train) / n_proc, 3),
        **{f"frac_{s}": round(sections[s] / total, 4) for s in SECTIONS},
    }


def add_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill `steps_per_s_per_proc` and, for every (env, map, method, batch, S) cell with both
    modes, the group/separate ratios, on both of its rows (None where a side is missing)."""
    cells: dict[tuple, dict[str, dict[str, Any]]] = {}
    for r in rows:
        r["steps_per_s_per_proc"] = (round(r["steps_per_s"] / r["procs"], 2)
                                     if r.get("steps_per_s") is not None and r.get("procs") else None)
        cells.setdefault((r["env"], r["map"], r["method"], r["batch_size"], r["group_size"]), {})[r["mode"]] = r

    def ratio(a: Any, b: Any) -> float | None:
        return round(float(a) / float(b), 4) if a is not None and b not in (None, 0) else None

    for pair in cells.values():
        g, sep = pair.get("group"), pair.get("separate")
        values = {
            "speed_ratio": ratio(g["steps_per_s"], sep["steps_per_s"]) if g and sep else None,
            "speed_ratio_per_proc": (ratio(g["steps_per_s_per_proc"], sep["steps_per_s_per_proc"])
                                     if g and sep else None),
            "mem_ratio": ratio(g["peak_rss_mb_per_run"], sep["peak_rss_mb_per_run"]) if g and sep else None,
        }
        for r in pair.values():
            r.update(values)
    return rows


def bench_groups(s: GroupBenchSettings, progress: Callable[[str], None] | None = None,
                 workdir: Path | None = None) -> list[dict[str, Any]]:
    """Measure every map x batch x S cell in both modes; rows in COLUMNS order, ratios filled."""
    progress = progress or say
    cells = resolve_cells(s)
    root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="pps-bench-groups-"))
    root.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    try:
        config_files: dict[tuple[str, int], Path] = {}
        for (map_name, batch), keys in cells.items():
            path = root / "config" / f"{map_name}-b{batch}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(keys, sort_keys=True))
            config_files[(map_name, batch)] = path
        if s.warmup:
            for map_name in s.maps:
                first = next(k for k in cells if k[0] == map_name)
                keys = dict(cells[first], t_max=min(WARMUP_T_MAX, s.t_max))
                path = root / "config" / f"{map_name}-warmup.yaml"
                path.write_text(yaml.safe_dump(keys, sort_keys=True))
                progress(f"groups: warming the JAX compile cache on {map_name} (one tiny run)")
                warm_cmd = _train_cmd(path, [0], root / "warmup" / map_name, False)
                wall = run_processes([_Proc(f"warm-up {map_name}", warm_cmd,
                                            root / "logs" / f"warmup-{map_name}.log", [])], 1)
                progress(f"groups: warm-up {map_name} took {wall:.1f} s")
        index = 0
        for (map_name, batch), config_file in config_files.items():
            for size in s.sizes:
                seeds = list(range(size))
                order = MODES if index % 2 == 0 else MODES[::-1]  # alternate who goes first against drift
                index += 1
                for mode in order:
                    tag = f"{map_name}-b{batch}-S{size}-{mode}"
                    base = root / "runs" / tag
                    if mode == "group":
                        procs = [_Proc(f"{tag}", _train_cmd(config_file, seeds, base, True),
                                       root / "logs" / f"{tag}.log", [base / seed_folder(x) for x in seeds])]
                    else:
                        procs = [_Proc(f"{tag} seed {x}", _train_cmd(config_file, [x], base / seed_folder(x), False),
                                       root / "logs" / f"{tag}-{seed_folder(x)}.log", [base / seed_folder(x)])
                                 for x in seeds]
                    max_procs = 1 if mode == "group" else min(s.cores, size)
                    progress(f"groups: {s.env} {map_name} batch {batch} S={size} {mode} "
                             f"({len(procs)} process{'es' if len(procs) > 1 else ''}, {max_procs} at a time)")
                    wall = run_processes(procs, max_procs)
                    row = {"env": s.env, "map": map_name, "method": s.method, "batch_size": batch,
                           "group_size": size, "mode": mode, "t_max": s.t_max, "cores": s.cores,
                           "procs": max_procs, **_measure(mode, procs, wall, size)}
                    progress(f"groups:   {row['steps_per_s']:.0f} env steps/s over {wall:.1f} s, "
                             f"{row['peak_rss_mb_per_run']:.0f} MB/run")
                    rows.append(row)
                    if not s.keep:
                        shutil.rmtree(base, ignore_errors=True)
    finally:
        if s.keep:
            progress(f"groups: run folders and logs kept in {root}")
        elif workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    add_ratios(rows)
    return [{c: r.get(c) for c in COLUMNS} for r in rows]


# ---- output ----------------------------------------------------------------------------


def csv_text(rows: list[dict[str, Any]]) -> str:
    return pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(index=False, float_format=FLOAT_FORMAT)


def format_table(rows: list[dict[str, Any]]) -> str:
    """Readable stdout: throughput and memory per cell (both modes side by side), then where
    the group's trainer time goes."""
    def f(v: Any, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    pairs: dict[tuple, dict[str, dict[str, Any]]] = {}
    for r in rows:
        pairs.setdefault((r["map"], r["batch_size"], r["group_size"]), {})[r["mode"]] = r
    speed, frac = [], []
    for (map_name, batch, size), pair in pairs.items():
        g, sep = pair.get("group", {}), pair.get("separate", {})
        any_row = g or sep
        speed.append({
            "map": map_name, "batch": batch, "S": size,
            "group steps/s": f(g.get("steps_per_s"), ".0f"), "separate steps/s": f(sep.get("steps_per_s"), ".0f"),
            "procs": f"1 vs {sep.get('procs', '-')}",
            "speed g/s": f(any_row.get("speed_ratio"), ".2f"),
            "per proc g/s": f(any_row.get("speed_ratio_per_proc"), ".2f"),
            "MB/run g": f(g.get("peak_rss_mb_per_run"), ".0f"), "MB/run s": f(sep.get("peak_rss_mb_per_run"), ".0f"),
            "mem g/s": f(any_row.get("mem_ratio"), ".2f"),
            "startup s g/s": f"{f(g.get('startup_s'), '.1f')}/{f(sep.get('startup_s'), '.1f')}",
        })
        if g:
            frac.append({"map": map_name, "batch": batch, "S": size,
                         **{sec: f(100 * g[f"frac_{sec}"], ".0f") for sec in SECTIONS}})
    text = ["RUN GROUP vs SEPARATE PROCESSES (ratios: group / separate; wall-clock includes start-up and JAX compile)",
            pd.DataFrame(speed).to_string(index=False) if speed else "(none)", "",
            "WHERE THE GROUP'S TRAINER TIME GOES (% of its wall_s, from run.json time_s)",
            pd.DataFrame(frac).to_string(index=False) if frac else "(none)"]
    return "\n".join(text)


def metadata(s: GroupBenchSettings, wall_s: float) -> dict[str, Any]:
    """groups.json's header: provenance (`pps.provenance`), settings and the batch's wall-clock."""
    machine = provenance.machine()
    return {
        "schema": 1, "bench": "groups", "date": provenance.now(), "host": provenance.host(),
        "platform": machine["platform"], "cpu_count": machine["cpu_count"], "affinity_cpus": machine["affinity_cpus"],
        "versions": provenance.versions(), "git_commit": provenance.git_commit(),
        "jax_cache": os.environ.get("PPS_JAX_CACHE_DIR") or os.environ.get("JAX_COMPILATION_CACHE_DIR")
        or "~/.cache/pps-bench/jax",
        "settings": s.as_dict(), "wall_s": round(wall_s, 1),
        "wall_clock_includes": "process start-up, imports, env construction, JAX compile or cache load, "
                               "training, evaluation, final writes; first launch to last exit",
    }
