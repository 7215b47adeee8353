"""Synthetic run folders in the `pps train` contract (docs/design.md §4), for the analysis tests.

`write_run` writes `metrics.csv` (or `.partial`) and `run.json` for one run whose test win rate
(and, for return-scored tasks, test return) is given exactly, so thresholds, AUCs and final
scores are known by construction. On a task without a win condition (MPE) `test_win_rate` is
empty, as `pps train` writes it. With `per_episode=n` it also writes `episodes.csv.gz`: n episodes
per evaluation whose means are the metrics row, and an absolute evaluation of 10 n episodes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pps.analysis.data.runs import METRIC_COLUMNS
from pps.envs.registry import BACKENDS
from pps.methods import METHODS
from pps.run_folder import ABSOLUTE, TEST, Evaluation, RunFolder


def run_dir(root: Path, env: str, map_: str, method: str, interval: int | None, seed: int) -> Path:
    return Path(root) / env / map_ / method / ("-" if interval is None else str(interval)) / f"seed{seed}"


def write_run(
    root: Path,
    *,
    env: str = "smax",
    map_: str = "3m",
    method: str = "qmix",
    interval: int | None = None,
    seed: int = 0,
    win: Callable[[np.ndarray], np.ndarray] | Sequence[float] | float = 0.0,
    t_max: int = 100_000,
    eval_interval: int = 5_000,
    jitter: int = 0,
    status: str = "finished",
    partial: bool = False,
    write_json: bool = True,
    columns: Sequence[str] | None = None,
    wall_per_step: float = 1e-3,
    json_overrides: dict | None = None,
    returns: Callable[[np.ndarray], np.ndarray] | Sequence[float] | float | None = None,
    per_episode: int = 0,
) -> Path:
    """Write one run folder and return it.

    `win` (and `returns`, the test return; default 2 x win) is a function of the step array, a
    sequence (one value per evaluation) or a constant.
    Evaluations happen at 0, eval_interval + jitter, 2 eval_interval + jitter, ... t_max (+ jitter).
    """
    folder = run_dir(root, env, map_, method, interval, seed)
    folder.mkdir(parents=True, exist_ok=True)
    steps = np.arange(0, t_max + 1, eval_interval, dtype=np.int64)
    steps[1:] += jitter

    def per_eval(values) -> np.ndarray:
        if callable(values):
            return np.asarray(values(steps.astype(float)), dtype=float)
        if np.ndim(values) == 0:
            return np.full(steps.size, float(values))
        out = np.asarray(values, dtype=float)
        assert out.size == steps.size, f"{out.size} values for {steps.size} evaluations"
        return out

    wr = per_eval(win)
    ret = 2.0 * wr if returns is None else per_eval(returns)
    has_win = BACKENDS[env].has_win_condition if env in BACKENDS else True
    episodes = steps // 50
    loss = np.where(steps > 0, 1.0 / (1.0 + steps / 1e4), np.nan)
    df = pd.DataFrame(
        {
            "step": steps,
            "episodes": episodes,
            "updates": episodes,
            "wall_s": steps * wall_per_step,
            "test_win_rate": wr if has_win else np.nan,
            "test_return_mean": ret,
            "test_ep_len_mean": 60.0 - 20 * wr,
            "train_return_mean": 1.5 * wr,
            "epsilon": np.maximum(0.05, 1.0 - steps / 50_000),
            "loss": loss,
            "aggregations": (episodes // interval) if interval else 0,
        }
    )[list(METRIC_COLUMNS)]
    if columns is not None:
        df = df.rename(columns=dict(zip(METRIC_COLUMNS, columns)))
    df.to_csv(folder / ("metrics.csv.partial" if partial else "metrics.csv"), index=False)
    if per_episode:
        evals = [episode_values(TEST, int(st), w, r, per_episode, has_win) for st, w, r in zip(steps, wr, ret)]
        evals.append(episode_values(ABSOLUTE, int(steps[-1]), wr[-1], ret[-1], 10 * per_episode, has_win))
        RunFolder(folder).write_episodes(evals)
    if write_json:
        info = {
            "schema": 1,
            "status": status,
            "env": env,
            "map": map_,
            "method": method,
            "interval": interval,
            "seed": seed,
            "config": {"t_max": t_max, "eval_interval": eval_interval, "n_envs": 1, "interval": interval},
            "label": METHODS[method].label if method in METHODS else method,
            "versions": {"python": "3.11"},
            "git_commit": None,
            "host": "test",
            "device": "cpu",
            "started_at": "2024-01-01T00:00:00",
            "ended_at": "2024-01-01T01:00:00" if status == "finished" else None,
            "wall_s": float(steps[-1] * wall_per_step) if status == "finished" else None,
            "n_envs": 1,
            "updates_per_episode": 1,
            "backend": "jaxmarl 0.2.0, jax 0.10.2",
            "deviations": [],
        }
        info.update(json_overrides or {})
        (folder / "run.json").write_text(json.dumps(info, indent=1))
    return folder


def episode_values(phase: str, step: int, win: float, ret: float, n: int, has_win: bool) -> Evaluation:
    """n episodes whose mean return is `ret` (spread symmetrically around it) and of which
    round(win n) are won."""
    returns = (ret + np.linspace(-1.0, 1.0, n)).astype(np.float32).tolist()
    won = [k < round(win * n) for k in range(n)] if has_win else None
    return Evaluation(phase, step, returns, won)


def sigmoid_curve(midpoint: float, scale: float = 10_000, top: float = 1.0):
    return lambda s: top / (1.0 + np.exp(-(s - midpoint) / scale))


def write_grid(
    root: Path,
    *,
    maps=("3m", "8m"),
    methods=(("qmix", None), ("qmix-ns", None), ("a-pps", 100), ("a-pps", 300), ("rs-pps", 300), ("pp-pps", 300)),
    seeds=(0, 1, 2, 3, 4),
    t_max: int = 100_000,
    rng_seed: int = 0,
) -> None:
    """A small, realistic grid: PPS methods learn faster than QMIX; noise per seed."""
    rng = np.random.default_rng(rng_seed)
    speed = {"qmix": 1.0, "vdn": 1.1, "qmix-ns": 1.3, "a-pps": 0.7, "rs-pps": 0.6, "pp-pps": 0.8}
    for map_ in maps:
        hard = 1.5 if map_ == "8m" else 1.0
        for method, interval in methods:
            for seed in seeds:
                mid = 40_000 * speed[method] * hard * (1.0 + 0.1 * rng.standard_normal())
                top = min(1.0, 0.9 + 0.05 * rng.standard_normal())
                noise = rng.normal(0, 0.02, size=t_max // 5_000 + 1)

                def curve(s, mid=mid, top=top, noise=noise):
                    return np.clip(sigmoid_curve(mid, 8_000, top)(s) + noise * (s > 0), 0, 1)

                write_run(root, map_=map_, method=method, interval=interval, seed=seed, win=curve,
                          t_max=t_max, jitter=int(rng.integers(0, 40)), wall_per_step=1e-3 * (1.3 if interval else 1.0))


def write_mpe_workflow_runs(
    root: Path,
    *,
    maps=("simple_spread_v3", "simple_reference_v3"),
    methods=(("qmix", None), ("a-pps", 300)),
    seeds=(0, 1, 2),
    t_max: int = 20_000,
    git_commit: str = "0123456789abcdef0123456789abcdef01234567",
    rng_seed: int = 0,
) -> None:
    """Finished MPE runs as the workflow's run groups leave them (one group of all seeds per
    cell): returns that rise at a per-seed pace, and run.json's outcome fields (`git_commit`,
    `t_env`, `episodes`, `updates`, `group`, `resumed`) filled in as `pps train` fills them."""
    rng = np.random.default_rng(rng_seed)
    for map_ in maps:
        for method, interval in methods:
            for seed in seeds:
                pace = 1.0 + 0.3 * rng.random() + (0.2 if interval else 0.0)
                write_run(root, env="mpe", map_=map_, method=method, interval=interval, seed=seed, t_max=t_max,
                          returns=lambda s, pace=pace: -60.0 + 40.0 * (1 - np.exp(-pace * s / t_max)),
                          json_overrides={"git_commit": git_commit, "t_env": t_max, "episodes": t_max // 25,
                                          "updates": t_max // 25, "group": {"seeds": list(seeds), "size": len(seeds)},
                                          "resumed": 0, "host": "vm"})
