"""End-to-end training throughput: env steps/s of `pps.train.Trainer` iterations after warm-up.

One Trainer iteration = one recorded episode in each of `n_envs` training envs, their
insertion into the buffer, and one learner update per collected episode (docs/design.md §3), with
aggregation events for PPS methods: exactly what `pps train` loops over, minus evaluation
and checkpoints. Warm-up (not timed): the iterations until the buffer holds a batch, plus
one more (JIT compile of the env, first updates, allocator). Then `e2e_iterations`
iterations are timed, the methods taking turns iteration by iteration.

A-PPS aggregates at an interval chosen so that exactly one event falls in the timed
window (at most every 300 updates, i.e. at least the authors' rate): conservative.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

from pps.bench.common import Settings, row, say
from pps.config import resolve_config
from pps.train import Trainer


def bench_end_to_end(s: Settings) -> list[dict[str, Any]]:
    rows = []
    n_envs, batch = s.e2e_n_envs, s.batch_episodes
    warm_updates = 2 * n_envs  # updates done in the warm-up: the first updating iteration + one more
    window_updates = s.e2e_iterations * n_envs
    for map_name in s.e2e_maps:
        with tempfile.TemporaryDirectory(prefix="pps-bench-") as tmp:
            trainers, info = {}, {}
            for method in s.e2e_methods:
                keys: dict[str, Any] = {
                    "env": "smax", "map": map_name, "method": method, "seed": s.seed, "n_envs": n_envs,
                    "batch_size": batch, "buffer_size": max(1000, batch), "t_max": 10**9, "threads": s.threads,
                    "device": "cpu", "eval_episodes": 1, "rnn_hidden": s.hidden,
                }
                if method in ("a-pps", "rs-pps", "pp-pps"):
                    keys["interval"] = min(s.interval, warm_updates + window_updates)
                    keys["rs_eval_episodes"] = s.rs_eval_episodes
                config = resolve_config(keys)
                trainer = trainers[method] = Trainer(config, Path(tmp) / method, show_progress=False)
                say(f"end-to-end {map_name} {method}: warm-up (buffer fill to {batch} episodes + 1 iteration)")
                t0 = time.perf_counter()
                warm_iters = 0
                while trainer.learner.updates == 0:
                    trainer.iteration()
                    warm_iters += 1
                trainer.iteration()
                info[method] = {"interval": config.effective_interval, "warmup_iterations": warm_iters + 1,
                                "warmup_s": round(time.perf_counter() - t0, 3),
                                "start": (trainer.progress.t_env, trainer.learner.updates,
                                          trainer.progress.aggregations), "wall": 0.0}
            # timed: the methods take turns iteration by iteration, so load changes hit all alike
            for _ in range(s.e2e_iterations):
                for method, trainer in trainers.items():
                    t0 = time.perf_counter()
                    trainer.iteration()
                    info[method]["wall"] += time.perf_counter() - t0
            for method, trainer in trainers.items():
                d = info[method]
                p, wall = trainer.progress, d["wall"]
                step0, upd0, agg0 = d["start"]
                steps, updates = p.t_env - step0, trainer.learner.updates - upd0
                sps = steps / wall if wall > 0 else math.nan
                say(f"end-to-end {map_name} {method}: {sps:,.0f} env steps/s ({steps} steps, {updates} updates, "
                    f"{wall:.1f} s)")
                rows.append(row("end_to_end", f"{map_name} {method}", sps, "env steps/s", map=map_name,
                                method=method, n_envs=n_envs, batch_size=batch, interval=d["interval"],
                                warmup_iterations=d["warmup_iterations"], warmup_s=d["warmup_s"],
                                timed_iterations=s.e2e_iterations, timed_s=round(wall, 4), env_steps=steps,
                                updates=updates, aggregations=p.aggregations - agg0,
                                updates_per_s=updates / wall if wall > 0 else math.nan,
                                mean_episode_len=steps / (s.e2e_iterations * n_envs)))
    return rows
