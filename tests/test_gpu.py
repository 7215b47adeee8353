"""On a real GPU (skipped without one): the learner trains there, jax leaves its memory alone,
learner updates never make the host wait for the device (timed for groups of 1 to 100 runs),
and a killed group of five resumes exactly (README: On a GPU).

GPU results are not the CPU's bits (other kernels, other rounding), so these tests compare
GPU runs with GPU runs. A run is repeatable on one GPU because `pps.devices.prepare_cuda`
turns on torch's deterministic algorithms. Without a GPU, `tests/test_devices.py` checks
the same placement on an emulated device.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from pps.config import resolve_config
from pps.devices import HOST
from pps.run_folder import METRICS_COLUMNS
from pps.train import Trainer
from tests.helpers.fake_cuda import python_with_default_jax_settings

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available())"),
]

NOT_WALL = [c for c in METRICS_COLUMNS if c != "wall_s"]
SEEDS = (0, 1, 2, 3, 4)
MPE = {"t_max": 3000, "eval_interval": 250, "eval_episodes": 4, "batch_size": 4, "n_envs": 4, "buffer_size": 100,
       "target_update_interval": 20, "epsilon_anneal_steps": 500, "checkpoint_interval": 300, "groups": "all",
       "opt_state_on_aggregate": "reset", "device": "cuda"}


def test_the_learner_trains_on_the_gpu_and_envs_replay_and_rng_stay_on_the_host(tmp_path):
    config = resolve_config({**MPE, "env": "mpe", "map": "simple_spread_v3", "method": "a-pps", "interval": 5})
    trainer = Trainer(config, tmp_path, show_progress=False)
    for _ in range(3):
        trainer.iteration()
    assert trainer.learner.updates > 0
    for net in (trainer.agents, trainer.learner.mixer, trainer.learner.target_agents, trainer.learner.target_mixer):
        assert all(p.is_cuda for p in net.parameters())
    for state in trainer.learner.optimizer.state.values():
        assert state["exp_avg"].is_cuda
    assert all(t.device == HOST for t in trainer.buffer.storage.values())
    assert trainer.runs[0].explore.device == HOST and trainer.train_runner.env_device == HOST


GROUP_SIZES = (1, 5, 25, 100)


@pytest.mark.slow
def test_learner_updates_never_wait_for_the_gpu_and_groups_of_1_to_100_are_timed():
    """The real-device counterpart of tests/test_devices.py's emulated one: K updates of replay
    batches prepared as the trainer prepares them (8m's sizes, batch 32) run under torch's
    sync debug mode set to "error", which raises on any operation that makes the host wait
    for the device (a read such as `.item()`, a blocking copy from pageable memory); their
    losses are read once, after. Prints each group size's time per update and per run-update
    (the measurement docs/performance.md's GPU section asks for)."""
    from pps.bench.learner import synthetic_batch
    from pps.buffer import ReplayBuffer
    from pps.devices import learner_device
    from pps.envs.registry import env_info
    from pps.methods import get_method
    from pps.seeding import stream_seeds
    from pps.train import build

    info, method, updates, batch_size = env_info("smax", "8m"), get_method("qmix"), 10, 32
    config = resolve_config({"map": "8m", "method": "qmix", "batch_size": batch_size, "device": "cuda"})
    device = learner_device("cuda")
    for size in GROUP_SIZES:
        seeds = [stream_seeds(s) for s in range(size)]
        agents, layout = build.agents(method, info, config, seeds, device)
        learner = build.learner(config, info, agents, layout, seeds, device)
        buffer = ReplayBuffer(batch_size, info.episode_limit, info.n_agents, info.obs_dim, info.state_dim,
                              info.n_actions, seed=[s["replay"] for s in seeds])
        for chunk in range(4):  # batch_size episodes per run, of 50% to 100% of the episode limit
            buffer.insert(synthetic_batch(size * batch_size // 4, info.episode_limit, info.n_agents, info.obs_dim,
                                          info.state_dim, info.n_actions, HOST, seed=chunk, fill=0.75))
        for _ in range(2):  # warm-up: kernels, the caching allocators
            learner.update(learner.prepare(buffer.sample(batch_size)))
        torch.cuda.synchronize()
        losses = []
        started = time.perf_counter()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(updates):
                losses.append(learner.update(learner.prepare(buffer.sample(batch_size))))
            queued = time.perf_counter() - started
        finally:
            torch.cuda.set_sync_debug_mode("default")
        torch.cuda.synchronize()
        took = (time.perf_counter() - started) / updates
        values = torch.stack(losses).tolist()
        assert len(values) == updates and all(len(v) == size and all(math.isfinite(x) for x in v) for v in values)
        print(f"group of {size} on {torch.cuda.get_device_name()}: {took * 1e3:.1f} ms per update, "
              f"{took / size * 1e3:.2f} ms per run-update (host queued them in {queued / updates * 1e3:.1f} ms each)")
        del learner, agents, buffer, losses
        torch.cuda.empty_cache()


def test_jax_leaves_the_gpu_memory_to_the_learner():
    """Building and stepping envs takes no GPU memory: jax is pinned to the CPU and, were a
    CUDA build of it started anyway, would not preallocate."""
    code = ("import torch\n"
            "free0, total = torch.cuda.mem_get_info()\n"
            "from pps.envs import registry\n"
            "env = registry.make_env('mpe', 'simple_spread_v3', 8, 0)\n"
            "env.reset(); env.step(torch.zeros(8, 3, dtype=torch.long))\n"
            "free1, _ = torch.cuda.mem_get_info()\n"
            "print(free0 - free1, total)\n")
    out = python_with_default_jax_settings(code)
    assert out.returncode == 0, out.stderr
    taken, total = (int(x) for x in out.stdout.split()[-2:])
    assert taken < 256 * 2**20, f"the envs took {taken / 2**20:.0f} MiB of {total / 2**20:.0f} MiB of GPU memory"


def _metrics(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "metrics.csv")[NOT_WALL]


@pytest.mark.slow
def test_a_gpu_group_of_five_resumes_exactly_after_kill_9(tmp_path):
    base = ["train", "--env", "mpe", "--map", "simple_spread_v3", "--method", "a-pps", "--interval", "5",
            "--quiet", "--seeds", *map(str, SEEDS)]
    run = [sys.executable, "-m", "pps.cli", *base, *(a for k, v in MPE.items() for a in ("--set", f"{k}={v}"))]
    started = time.time()
    straight = subprocess.run([*run, "--out", str(tmp_path / "straight")], capture_output=True, text=True, timeout=600)
    assert straight.returncode == 0, straight.stderr
    print(f"group of {len(SEEDS)}, {MPE['t_max']} steps each, on {torch.cuda.get_device_name()}: "
          f"{time.time() - started:.1f} s")

    out = tmp_path / "killed"
    proc = subprocess.Popen([*run, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not all((out / f"seed{s}" / "checkpoint.pt").exists() for s in SEEDS):
        time.sleep(0.05)
    time.sleep(0.5)
    assert proc.poll() is None, "the group finished before it could be killed; raise t_max"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not any((out / f"seed{s}" / "metrics.csv").exists() for s in SEEDS)

    resumed = subprocess.run([*run, "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.count("resumed:") == len(SEEDS)
    for s in SEEDS:
        pd.testing.assert_frame_equal(_metrics(tmp_path / "straight" / f"seed{s}"), _metrics(out / f"seed{s}"))
        assert json.loads((out / f"seed{s}" / "run.json").read_text())["device"] == "cuda"
    assert not _metrics(out / "seed0").equals(_metrics(out / "seed1"))  # five runs, not one copied
