"""Shared plumbing of the benchmarks: settings, timing, host record, progress."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pps import provenance

# Maps of the learner benchmark: N = 3, 8, 27 agents.
LEARNER_MAPS_FULL = ("3m", "8m", "27m_vs_30m")
LEARNER_MAPS_QUICK = ("3m", "8m")
ENV_BATCHES = (1, 8, 32, 128)


@dataclass
class Settings:
    """Everything that sizes a benchmark run; recorded verbatim in the JSON."""

    mode: str  # "quick" | "full" | "smoke"
    device: str = "cpu"
    threads: int = 1
    seed: int = 0
    # learner update
    learner_maps: tuple[str, ...] = LEARNER_MAPS_FULL
    batch_episodes: int = 32
    episode_len: int = 60  # T of the synthetic batch (SMAX's limit is 100; 60 is a typical 3m/8m episode)
    fill: float = 0.7  # real steps over the batch's B x T (SMAX 3m batches: 0.64-0.74)
    hidden: int = 64
    warmup: int = 3
    repeats: int = 10
    reference_repeats: int = 5  # the per-agent loop is slow at N = 27
    # aggregation
    agg_maps: tuple[str, ...] = ("3m", "8m")
    agg_repeats: int = 50
    rs_eval_episodes: int = 10
    rs_repeats: int = 3
    interval: int = 300  # the authors' aggregation interval, for the RS overhead target
    train_envs: int = 8  # n_envs of the training runner whose episode cost enters the RS target
    # env throughput
    env_maps: tuple[str, ...] = ("3m",)
    env_batches: tuple[int, ...] = ENV_BATCHES
    env_steps: int = 100  # steps per timed repeat (one SMAX episode limit)
    env_repeats: int = 5
    # end-to-end
    e2e_maps: tuple[str, ...] = ("3m", "8m")
    e2e_methods: tuple[str, ...] = ("qmix", "a-pps")
    e2e_iterations: int = 3  # timed Trainer iterations (n_envs episodes + n_envs updates each)
    e2e_n_envs: int = 8
    # memory
    memory_maps: tuple[str, ...] = ("3m", "8m", "27m_vs_30m")
    only: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def quick_settings(**kw: Any) -> Settings:
    return Settings(mode="quick", learner_maps=LEARNER_MAPS_QUICK, repeats=5, reference_repeats=3,
                    warmup=2, agg_repeats=20, rs_repeats=2, env_repeats=3, e2e_iterations=2, **kw)


def full_settings(**kw: Any) -> Settings:
    return Settings(mode="full", agg_maps=("3m", "8m", "27m_vs_30m"), env_maps=("3m", "8m"),
                    e2e_iterations=4, **kw)


def smoke_settings(**kw: Any) -> Settings:
    """Plumbing only (the test suite): every code path once, tiny sizes, figures meaningless."""
    return Settings(mode="smoke", learner_maps=("3m",), batch_episodes=2, episode_len=4, hidden=8,
                    warmup=0, repeats=1, reference_repeats=1, agg_maps=("3m",), agg_repeats=1,
                    rs_eval_episodes=1, rs_repeats=1, train_envs=2, env_maps=("3m",), env_batches=(1, 2),
                    env_steps=3, env_repeats=1, e2e_maps=("3m",), e2e_iterations=1, e2e_n_envs=2,
                    memory_maps=("3m",), **kw)


def median_time(fn: Callable[[], Any], warmup: int, repeats: int,
                sync: Callable[[], None] | None = None) -> tuple[float, list[float]]:
    """Median wall time of `fn()` in seconds over `repeats` calls after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    times = []
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def preset_path(path: Path) -> Path:
    """A preset path as given, else relative to the source checkout (the bench may run elsewhere)."""
    path = Path(path)
    if path.is_file() or path.is_absolute():
        return path
    beside = Path(__file__).resolve().parents[2] / path
    return beside if beside.is_file() else path


def say(message: str) -> None:
    """Progress on stderr (stdout is kept for the final table)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def host_record(settings: Settings) -> dict[str, Any]:
    """Where and with what the benchmarks ran (`pps.provenance`), plus the thread settings."""
    import torch  # here, not at the top: `pps bench` reads its settings from this module without torch

    record: dict[str, Any] = {
        "date": provenance.now(),
        "host": provenance.host(),
        **provenance.machine(),
        "torch_threads": torch.get_num_threads(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "versions": provenance.versions(),
        "git_commit": provenance.git_commit(),
        "device": settings.device,
    }
    if settings.device.startswith("cuda") and torch.cuda.is_available():
        record["cuda_device"] = torch.cuda.get_device_name(0)
        record["cuda_version"] = torch.version.cuda
    return record


def row(bench: str, case: str, value: float | None, unit: str, **extra: Any) -> dict[str, Any]:
    """One measured figure. `value` is the headline number in `unit`; extras go to the JSON."""
    return {"bench": bench, "case": case, "value": value, "unit": unit, **extra}
