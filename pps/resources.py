"""What each workflow job asks the scheduler for: memory (mem_mb) and time (runtime, minutes).

`--cores` packs local jobs by their threads and mem_mb, and SLURM gets the same numbers as
its requests, so they must cover a job without reserving a node for it. A training job of S
runs of one cell is one process: the base memory once (python, torch, jax, the compiled
env) plus every run's own (pps.memory: replay buffer, learner batch, checkpoint chunk),
and S times one run's time limit (the safe request; a group is faster than its runs one
after another). A retry (e.g. a job killed at its time limit, which then resumes) asks for
`attempt` times as much.

Plain functions of the workflow's config dict (checked by pps.plan.check_config), so the
models are tested without Snakemake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pps import memory
from pps.config import RunConfig
from pps.plan import env_of, n_agents


def run_value(cfg: Mapping[str, Any], key: str) -> Any:
    """A run key's value for every run: the preset's, else the package default."""
    return cfg["run"].get(key, getattr(RunConfig, key))


def run_mem_mb(cfg: Mapping[str, Any], map_name: str) -> int:
    """What one run holds above the process's base: the replay buffer (its real bytes per
    episode, so the episode limit counts: corridor's is 400 steps), one learner batch and
    the checkpoint's transient chunk (pps.memory)."""
    return memory.train_memory_mb(
        env_of(cfg, map_name), map_name, buffer_size=run_value(cfg, "buffer_size"),
        batch_size=run_value(cfg, "batch_size"), compact_buffer=run_value(cfg, "compact_buffer"),
        rnn_hidden=run_value(cfg, "rnn_hidden"),
    )


def run_minutes(cfg: Mapping[str, Any], map_name: str) -> float:
    """One run's time limit in minutes: base plus a share that grows with budget and agents."""
    res = cfg["resources"]["train"]
    steps_m = run_value(cfg, "t_max") / 1e6
    return res["runtime"] + res["runtime_per_mstep"] * steps_m * n_agents(cfg, map_name) / 3


def train_mem_mb(cfg: Mapping[str, Any], map_name: str, n_runs: int = 1, attempt: int = 1) -> int:
    """mem_mb of a training job of `n_runs` runs of one cell: the base once plus each run's own."""
    return (cfg["resources"]["train"]["mem_mb"] + n_runs * run_mem_mb(cfg, map_name)) * attempt


def train_runtime(cfg: Mapping[str, Any], map_name: str, n_runs: int = 1, attempt: int = 1) -> int:
    """runtime (minutes) of a training job of `n_runs` runs of one cell: n_runs times one run's."""
    return int(n_runs * run_minutes(cfg, map_name) * attempt)


def analysis(cfg: Mapping[str, Any]) -> dict[str, int]:
    """mem_mb and runtime of every analysis job (collect, stats, plot, overhead, scaling)."""
    res = cfg["resources"]["analysis"]
    return {"mem_mb": res["mem_mb"], "runtime": res["runtime"]}


def threads(cfg: Mapping[str, Any], kind: str) -> int:
    """The threads of a job of `kind` ("train" or "analysis")."""
    return cfg["resources"][kind]["threads"]


def site(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Site resources for every job (partition, account, ...) from the config; empty values left out."""
    return {k: v for k, v in cfg["resources"]["slurm"].items() if v not in ("", None)}
