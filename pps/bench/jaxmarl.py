"""`pps bench --cost --jaxmarl PATH`: this suite against JaxMARL's `qmix_rnn` at one schedule,
back to back on this machine.

JaxMARL's QMIX (`baselines/QLearning/qmix_rnn.py` in a checkout of FLAIROx/JaxMARL, run as
its README says, with Hydra overrides) jit-compiles its whole training loop, so its wall-clock
is compile + training. It is run twice per map, for `small` and `large` total timesteps with
everything else equal, and its training speed is the difference: (large - small) env steps /
(its wall-clock at large - at small). Compile, start-up and the steps before learning starts
cancel out. Its test episodes are switched off (`TEST_DURING_TRAINING=False`), its models
are not saved and wandb is disabled.

The matched schedule (`SCHEDULE`): 8 parallel envs, learning rate 5e-4, GRU hidden size 64,
mixer embedding 32 and hypernetwork hidden size 64 (this suite's, PyMARL's; JaxMARL's own
defaults are 64 and 256). Each length runs `REPEATS` times and its fastest wall-clock counts.
The update-to-data ratio differs by design and is reported, not matched: JaxMARL takes
`NUM_EPOCHS` gradient steps on 32 sampled trajectories of `NUM_STEPS` steps after every
`NUM_ENVS x NUM_STEPS` env steps; this suite takes one gradient step on 32 sampled whole
episodes per collected episode (PyMARL's schedule). This suite's side is timed in this
process as `pps.bench.cost` times a run (warm-up, then training iterations only), QMIX with
the claims preset's keys and the schedule's.

Both sides run on one thread: `pps bench` pins XLA's CPU pool to one thread through
`XLA_FLAGS` before anything imports jax (`--threads 1`, the default), and the JaxMARL process
inherits that environment, so the ratio is per core.

Running it needs the baseline's own dependencies (hydra-core, omegaconf, flashbax, wandb):
`pip install -e ".[jaxmarl-baseline]"`.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pps.errors import UserError

SCRIPT = Path("baselines/QLearning/qmix_rnn.py")
# JaxMARL's keys at the matched schedule (its alg config: ql_rnn_smax)
SCHEDULE = {"NUM_ENVS": 8, "NUM_STEPS": 32, "NUM_EPOCHS": 8, "LR": 0.0005, "HIDDEN_SIZE": 64,
            "MIXER_EMBEDDING_DIM": 32, "MIXER_HYPERNET_HIDDEN_DIM": 64}
# this suite's run keys at the same schedule (the rest: the claims preset's)
OURS = {"n_envs": 8, "batch_size": 32, "lr": 0.0005, "rnn_hidden": 64}
NEEDS = ("hydra", "omegaconf", "flashbax", "wandb")
REPEATS = 2


@dataclass(frozen=True)
class JaxMarlRun:
    total_timesteps: int
    wall_s: float


def script_of(root: Path) -> Path:
    """The checkout's qmix_rnn.py, or a `UserError` if `root` is not a JaxMARL checkout."""
    script = Path(root) / SCRIPT
    if not script.is_file():
        raise UserError(f"--jaxmarl: {script} not found; give the root of a JaxMARL checkout "
                        f"(git clone https://github.com/FLAIROx/JaxMARL).")
    return script


def check_checkout(root: Path) -> Path:
    """The checkout's qmix_rnn.py, or a `UserError` saying what is missing: the script, or a
    package it imports (each tried in a fresh interpreter: once, before any timing starts)."""
    script = script_of(root)
    missing = []
    for module in NEEDS:
        probe = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
        if probe.returncode:
            missing.append(module)
    if missing:
        raise UserError(f"--jaxmarl: JaxMARL's baseline needs {', '.join(missing)}, not importable here; "
                        f"install them with pip install -e \".[jaxmarl-baseline]\".")
    return script


def run_qmix_rnn(root: Path, map_name: str, total_timesteps: int, log: Path, seed: int = 0) -> JaxMarlRun:
    """One `qmix_rnn.py` process at the matched schedule; its output goes to `log`."""
    root, log = Path(root).resolve(), Path(log).resolve()
    script = script_of(root)  # its packages: `check_checkout`, before the benchmark
    overrides = ["+alg=ql_rnn_smax", f"alg.MAP_NAME={map_name}", f"alg.TOTAL_TIMESTEPS={total_timesteps}",
                 *(f"alg.{k}={v}" for k, v in SCHEDULE.items()), "alg.TEST_DURING_TRAINING=False",
                 f"SEED={seed}", "NUM_SEEDS=1", "SAVE_PATH=null", "WANDB_MODE=disabled",
                 f"hydra.run.dir={log.parent / (log.stem + '-hydra')}"]
    env = {**os.environ, "WANDB_MODE": "disabled", "WANDB_SILENT": "true", "JAX_PLATFORMS": "cpu"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)  # both lengths compile alike: no cache for one only
    t0 = time.perf_counter()
    with open(log, "w") as out:
        rc = subprocess.run([sys.executable, str(script), *overrides], cwd=root, stdout=out,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env).returncode
    wall = time.perf_counter() - t0
    if rc:
        tail = log.read_text(errors="replace")[-800:]
        raise UserError(f"--jaxmarl: qmix_rnn.py on {map_name} exited with status {rc}; the end of its log "
                        f"({log}):\n{tail}")
    return JaxMarlRun(total_timesteps, wall)


def fastest(root: Path, map_name: str, total_timesteps: int, log: Path, seed: int = 0,
            repeats: int = REPEATS) -> JaxMarlRun:
    """The fastest of `repeats` runs of one length (one sample of a busy machine is noisy)."""
    runs = [run_qmix_rnn(root, map_name, total_timesteps, log.with_name(f"{log.stem}-{i}{log.suffix}"), seed)
            for i in range(repeats)]
    return min(runs, key=lambda r: r.wall_s)


def steady_steps_per_s(small: JaxMarlRun, large: JaxMarlRun) -> float:
    """Env steps/s of training alone: the difference of two runs that differ only in length."""
    if large.total_timesteps <= small.total_timesteps or large.wall_s <= small.wall_s:
        return math.nan
    return (large.total_timesteps - small.total_timesteps) / (large.wall_s - small.wall_s)


def jaxmarl_row(map_name: str, small: JaxMarlRun, large: JaxMarlRun, ours: dict[str, Any]) -> dict[str, Any]:
    theirs = steady_steps_per_s(small, large)
    measured = not math.isnan(theirs)
    per_update = SCHEDULE["NUM_ENVS"] * SCHEDULE["NUM_STEPS"] / SCHEDULE["NUM_EPOCHS"]
    return {
        "map": map_name,
        "jaxmarl_steps_per_s": round(theirs, 1),
        "ours_steps_per_s": ours["env_steps_per_s"],
        "ours_over_jaxmarl": round(ours["env_steps_per_s"] / theirs, 3) if measured else math.nan,
        "jaxmarl_env_steps_per_gradient_step": per_update,
        "ours_env_steps_per_gradient_step": round(1000 / ours["updates_per_kstep"], 1),
        "jaxmarl_wall_s": [round(small.wall_s, 1), round(large.wall_s, 1)],
        # wall-clock at 0 steps implied by the two runs: compile and start-up, must be positive
        "jaxmarl_intercept_s": round(small.wall_s - small.total_timesteps / theirs, 1) if measured else None,
        "jaxmarl_total_timesteps": [small.total_timesteps, large.total_timesteps],
    }
