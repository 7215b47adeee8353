"""`pps bench --cost`: what a preset's grid costs, map by map, measured on this machine.

For every preset x map, one QMIX run is built with the preset's run keys (`run:` section),
trained in this process until its buffer holds a batch, one iteration more (JIT compile,
first updates), then timed for at least `steps` env steps of `Trainer.iteration` (the loop
`pps train` runs: episodes in `n_envs` envs, their insertion, one learner update per episode);
then one evaluation of `eval_episodes` greedy episodes is timed, after an untimed one. From
these:

- `env_steps_per_s` (training iterations only), `learner_ms_per_update`, `updates_per_kstep`;
- `run_hours`: one run of the preset, `t_max` x seconds per env step + its evaluations (one at
  step 0, `t_max` / `eval_interval` more, and the final absolute evaluation, priced per
  episode) x seconds per evaluation: wall-clock hours of one process, CPU-hours at one thread;
- `grid_runs` and `grid_cpu_hours`: the preset's runs on that map (methods x intervals of the
  PPS methods x seeds) x `run_hours`, and, in `totals`, summed over the preset's maps that
  were measured. Maps of the preset that need StarCraft II (SMAC) are named there as not measured.

What the projection leaves out, and says so in every row's `note`: it times the first steps of
training, where epsilon is near 1 and episodes are as long as random play makes them (a
learned policy's episodes, hence the learner's batches, are longer on some maps and shorter
on others); every method is charged QMIX's cost (per-agent networks and aggregation cost more:
`pps overhead`); and runs are one per core, as `snakemake --cores C` with one-thread jobs
(a run group of S seeds in one process is cheaper per run: `pps bench --groups`).
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from pps import plan
from pps.bench.common import preset_path, say
from pps.config import RunConfig, resolve_config
from pps.envs.registry import MAPS
from pps.errors import UserError
from pps.train import Trainer

PRESETS = (Path("workflow/config/paper.yaml"), Path("workflow/config/claims.yaml"))
MAPS_MEASURED = ("3m", "8m", "2s3z", "3s_vs_5z", "25m", "simple_spread_v3")
NOTE = ("first steps of training (epsilon near 1), QMIX's cost for every method, one run per core; "
        "see pps.bench.cost")

COLUMNS = (
    "preset", "env", "map", "n_agents", "n_envs", "batch_size", "t_max", "eval_interval", "eval_episodes",
    "timed_steps", "timed_s", "env_steps_per_s", "updates_per_kstep", "learner_ms_per_update", "eval_s",
    "run_hours", "grid_runs", "grid_cpu_hours", "warmup_s", "note",
)


@dataclass
class CostBenchSettings:
    """Everything that sizes `pps bench --cost`; recorded verbatim beside the CSV."""

    presets: tuple[Path, ...] = PRESETS
    maps: tuple[str, ...] = MAPS_MEASURED
    steps: int = 3000  # env steps timed per (preset, map), at least
    seed: int = 0
    threads: int = 1
    device: str = "cpu"  # the learner's; envs always run on the CPU (recorded by host_record)
    overrides: dict[str, Any] = field(default_factory=dict)  # run keys over every preset's (tests)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["presets"] = [str(p) for p in self.presets]
        return d


def env_of(map_name: str) -> str:
    """The backend a map belongs to (SMAX before MPE; SMAC maps need StarCraft II and are not timed)."""
    for env in ("smax", "mpe"):
        if map_name in MAPS[env]:
            return env
    known = sorted(set(MAPS["smax"]) | set(MAPS["mpe"]))
    raise UserError(f"--cost: unknown map '{map_name}'; SMAX and MPE maps: {', '.join(known)}.")


def read_preset(path: Path) -> dict[str, Any]:
    """A workflow preset, checked and filled in as the workflow reads it (`pps.plan.load_preset`),
    found beside the source checkout when the path is relative and absent here."""
    return plan.load_preset(preset_path(Path(path)))


def grid_runs(preset: dict[str, Any], map_name: str) -> int:
    """How many runs the preset trains on `map_name` (`pps.plan.grid`: methods, each PPS method
    once per interval, times seeds); 0 where the map is not in the preset."""
    return len(plan.grid(preset, [map_name])) if map_name in preset["maps"] else 0


def _config(preset: dict[str, Any], env: str, map_name: str, s: CostBenchSettings) -> RunConfig:
    keys = {**preset.get("run", {}), **s.overrides}
    keys.update({"env": env, "map": map_name, "method": "qmix", "seed": s.seed, "threads": s.threads,
                 "device": "cpu", "t_max": 10**9})
    return resolve_config(keys)


def run_hours(t_max: int, s_per_step: float, eval_s: float, config: RunConfig) -> float:
    """One run's projected hours: `t_max` training steps, and its evaluations (one at step 0,
    one every `eval_interval`, and the final absolute evaluation of
    `effective_absolute_eval_episodes` greedy episodes, priced per episode as a test)."""
    evaluations = 1 + t_max / config.eval_interval
    absolute = config.effective_absolute_eval_episodes / max(1, config.eval_episodes)
    return (t_max * s_per_step + (evaluations + absolute) * eval_s) / 3600


def time_run(preset_name: str, preset: dict[str, Any], map_name: str, s: CostBenchSettings) -> dict[str, Any]:
    """One row of `COLUMNS`: the run's warm-up, its timed iterations and one timed evaluation."""
    env = env_of(map_name)
    config = _config(preset, env, map_name, s)
    with tempfile.TemporaryDirectory(prefix="pps-bench-cost-") as tmp:
        trainer = Trainer(config, Path(tmp), show_progress=False)
        say(f"cost {preset_name} {map_name}: warm-up (buffer fill to {config.batch_size} episodes + 1 iteration)")
        t0 = time.perf_counter()
        while trainer.learner.updates == 0:
            trainer.iteration()
        trainer.iteration()
        warmup_s = time.perf_counter() - t0
        run = trainer.runs[0]
        step0, updates0 = trainer.progress.t_env, trainer.learner.updates
        learner0 = trainer.timer.totals.get("learner", 0.0)
        t0 = time.perf_counter()
        while trainer.progress.t_env - step0 < s.steps:
            trainer.iteration()
        timed_s = time.perf_counter() - t0
        steps, updates = trainer.progress.t_env - step0, trainer.learner.updates - updates0
        learner_s = trainer.timer.totals.get("learner", 0.0) - learner0
        trainer.play(run.test_runner, run.agents, config.eval_episodes)  # untimed: compiles the greedy path
        t0 = time.perf_counter()
        trainer.play(run.test_runner, run.agents, config.eval_episodes)
        eval_s = time.perf_counter() - t0
    t_max = int(preset.get("run", {}).get("t_max", RunConfig.t_max))
    hours = run_hours(t_max, timed_s / steps, eval_s, config)
    runs = grid_runs(preset, map_name)
    row = {
        "preset": preset_name, "env": env, "map": map_name, "n_agents": trainer.info.n_agents,
        "n_envs": config.n_envs, "batch_size": config.batch_size, "t_max": t_max,
        "eval_interval": config.eval_interval, "eval_episodes": config.eval_episodes, "timed_steps": steps,
        "timed_s": round(timed_s, 3), "env_steps_per_s": round(steps / timed_s, 2),
        "updates_per_kstep": round(1000 * updates / steps, 3),
        "learner_ms_per_update": round(1000 * learner_s / updates, 2) if updates else math.nan,
        "eval_s": round(eval_s, 3), "run_hours": round(hours, 3), "grid_runs": runs,
        "grid_cpu_hours": round(runs * hours, 1), "warmup_s": round(warmup_s, 1), "note": NOTE,
    }
    say(f"cost {preset_name} {map_name}: {row['env_steps_per_s']:,.0f} env steps/s, "
        f"{row['learner_ms_per_update']} ms/update, {row['run_hours']:.2f} h per run, {runs} runs in the grid")
    return row


def bench_cost(s: CostBenchSettings) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows, totals): a row per preset x map (`COLUMNS`), and per preset its grid's CPU-hours
    over the measured maps, with the preset's maps that were not measured."""
    torch.set_num_threads(s.threads)
    for map_name in s.maps:
        env_of(map_name)  # every map checked before anything runs
    rows, totals = [], []
    for path in s.presets:
        preset = read_preset(path)
        name = Path(path).stem
        preset_rows = [time_run(name, preset, m, s) for m in s.maps]
        rows += preset_rows
        measured = {r["map"] for r in preset_rows}
        missing = [m for m in preset.get("maps", []) if m not in measured]
        totals.append({"preset": name, "runs": sum(r["grid_runs"] for r in preset_rows),
                       "cpu_hours": round(sum(r["grid_cpu_hours"] for r in preset_rows), 1),
                       "maps_measured": sorted(m for m in measured if grid_runs(preset, m)),
                       "maps_not_measured": missing})
    return rows, totals


def _num(v: Any, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:,.{digits}f}"


def markdown(rows: list[dict[str, Any]], totals: list[dict[str, Any]], compared: list[dict[str, Any]]) -> str:
    """`cost.md`: a table per preset, the grids' totals, and the JaxMARL comparison if any."""
    out = []
    for preset in dict.fromkeys(r["preset"] for r in rows):
        sub = [r for r in rows if r["preset"] == preset]
        first = sub[0]
        out += [f"### {preset} preset (t_max {first['t_max']:,}, batch {first['batch_size']}, "
                f"{first['n_envs']} envs, {first['eval_episodes']} test episodes every {first['eval_interval']:,} "
                f"steps)\n",
                "| map | agents | env steps/s | learner ms/update | updates per 1k steps | s per evaluation "
                "| CPU-hours per run | runs in the grid | grid CPU-hours |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        out += [f"| {r['map']} | {r['n_agents']} | {_num(r['env_steps_per_s'])} "
                f"| {_num(r['learner_ms_per_update'], 1)} "
                f"| {_num(r['updates_per_kstep'], 1)} | {_num(r['eval_s'], 1)} | {_num(r['run_hours'], 2)} "
                f"| {r['grid_runs'] or '–'} | {_num(r['grid_cpu_hours']) if r['grid_runs'] else '–'} |" for r in sub]
        out.append("")
    out += ["| preset | runs measured | CPU-hours (those runs) | maps not measured |", "| --- | ---: | ---: | --- |"]
    out += [f"| {t['preset']} | {t['runs']} | {_num(t['cpu_hours'])} | {', '.join(t['maps_not_measured']) or '–'} |"
            for t in totals]
    out.append(f"\nProjection: {NOTE}.\n")
    if compared:
        out += ["| map | JaxMARL qmix_rnn env steps/s | this suite env steps/s | this suite / JaxMARL "
                "| env steps per gradient step (JaxMARL / this suite) |",
                "| --- | ---: | ---: | ---: | ---: |"]
        out += [f"| {c['map']} | {_num(c['jaxmarl_steps_per_s'])} | {_num(c['ours_steps_per_s'])} "
                f"| {_num(c['ours_over_jaxmarl'], 2)} | {_num(c['jaxmarl_env_steps_per_gradient_step'])} / "
                f"{_num(c['ours_env_steps_per_gradient_step'])} |" for c in compared]
        out.append("")
    return "\n".join(out)
