"""Memory: the static estimate the workflow requests, and checkpoints that hold the replay buffer once.

The estimate (`pps.memory`) must equal the real buffer's bytes (its layout is
`pps.replay_layout`) and the real envs' sizes (the backends' task tables); the checkpoint
must neither copy the buffer in memory nor write its unused capacity.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap

import pytest
import torch

from pps import memory, replay_layout
from pps.buffer import ReplayBuffer
from pps.envs import registry
from pps.errors import UserError
from tests.test_buffer import episodes


@pytest.mark.parametrize("dims", [
    dict(episode_limit=100, n_agents=3, obs_dim=75, state_dim=72, n_actions=8),  # SMAX 3m
    dict(episode_limit=400, n_agents=6, obs_dim=156, state_dim=282, n_actions=30),  # SMAC corridor
    dict(episode_limit=7, n_agents=2, obs_dim=5, state_dim=3, n_actions=300),  # actions beyond uint8
])
@pytest.mark.parametrize("compact", [True, False])
def test_episode_bytes_equals_the_allocated_buffer(dims, compact):
    buf = ReplayBuffer(2, **dims, compact=compact)
    assert replay_layout.episode_bytes(**dims, compact=compact) == buf.bytes_per_episode()
    layout = {f.name: f for f in replay_layout.replay_fields(**dims, compact=compact)}
    for name, tensor in buf.storage.items():  # field by field, so two errors cannot cancel out
        assert tuple(tensor.shape[2:]) == layout[name].shape and str(tensor.dtype) == f"torch.{layout[name].dtype}"


@pytest.mark.parametrize("env", [e for e in ("smax", "mpe") if e in registry.MAPS])
def test_static_sizes_equal_the_installed_jaxmarl(env):
    """SMAX sizes come from jaxmarl's formulas, MPE's from its task table: both must match
    the live env of every map."""
    for name in registry.MAPS[env]:
        info = registry.env_info(env, name)
        want = memory.MapDims(info.n_agents, info.n_actions, info.obs_dim, info.state_dim, info.episode_limit)
        assert memory.map_dims(env, name) == want, name


@pytest.mark.parametrize("name, obs, state, actions, limit", [
    # StarCraft2Env(map_name).get_env_info() with SMAC's default flags
    ("3m", 30, 48, 9, 60),
    ("8m", 80, 168, 14, 120),
    ("2s3z", 80, 120, 11, 120),
    ("MMM2", 176, 322, 18, 180),
    ("corridor", 156, 282, 30, 400),
    ("6h_vs_8z", 78, 140, 14, 150),
    ("27m_vs_30m", 285, 1170, 36, 180),
    ("3s5z_vs_3s6z", 136, 230, 15, 170),
])
def test_smac_sizes_equal_smacs_own(name, obs, state, actions, limit):
    d = memory.map_dims("smac", name)
    assert (d.obs_dim, d.state_dim, d.n_actions, d.episode_limit) == (obs, state, actions, limit)


def test_map_dims_import_nothing_heavy():
    code = ("import sys; from pps import memory; memory.train_memory_mb('smac', 'corridor', 5000, 96); "
            "print(sorted(m for m in ('jax', 'jaxmarl', 'torch', 'smac') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_memory_grows_with_the_episode_limit_and_counts_each_part(monkeypatch):
    base = registry.MAPS["smac"]["corridor"]
    mb = {}
    for limit in (100, 200, 400):
        monkeypatch.setitem(registry.MAPS["smac"], "corridor", dataclasses.replace(base, episode_limit=limit))
        parts = memory.train_memory_bytes("smac", "corridor", buffer_size=5000, batch_size=96)
        d = memory.map_dims("smac", "corridor")
        per_episode = replay_layout.episode_bytes(d.episode_limit, d.n_agents, d.obs_dim, d.state_dim, d.n_actions)
        assert parts["replay"] == 5000 * per_episode
        assert parts["checkpoint"] == replay_layout.CHECKPOINT_CHUNK_BYTES  # one chunk, never a second buffer
        assert parts["total"] == parts["replay"] + parts["learner"] + parts["checkpoint"]
        mb[limit] = memory.train_memory_mb("smac", "corridor", buffer_size=5000, batch_size=96)
    assert mb[100] < mb[200] < mb[400]
    # corridor's 400-step episodes: about 1 MB of replay each, 5 GB for the paper's 5000
    assert mb[400] > 6000


def test_float32_layout_and_bigger_batches_cost_more():
    small = memory.train_memory_mb("smax", "8m", buffer_size=1000, batch_size=16)
    assert memory.train_memory_mb("smax", "8m", 1000, 16, compact_buffer=False) > small
    assert memory.train_memory_mb("smax", "8m", 1000, 96) > small
    assert memory.train_memory_mb("smax", "8m", 2000, 16) > small
    assert memory.train_memory_mb("smax", "8m", 1000, 16, rnn_hidden=256) > small


# ---------------------------------------------------------------------------- checkpoints


def _filled(capacity: int, lengths: list[int]) -> ReplayBuffer:
    buf = ReplayBuffer(capacity, episode_limit=5, n_agents=2, obs_dim=3, state_dim=6, n_actions=4, seed=1)
    for start in range(0, len(lengths), 3):
        batch = episodes(lengths[start:start + 3])
        batch.obs += start  # every insert differs, so a misplaced chunk shows
        buf.insert(batch)
    return buf


@pytest.mark.parametrize("capacity, lengths", [(10, [2, 5, 3, 4]), (4, [1, 2, 3, 4, 5, 1, 2])])
def test_checkpoint_round_trip_in_chunks_without_copying(tmp_path, monkeypatch, capacity, lengths):
    """Partly filled and wrapped-around buffers, saved in chunks of 3 episodes."""
    buf = _filled(capacity, lengths)
    monkeypatch.setattr("pps.buffer.CHECKPOINT_CHUNK_BYTES", 3 * buf.storage["obs"][0, 0].nbytes)
    state = buf.state_dict()
    chunks = state["data"]["obs"]
    assert [len(c) for c in chunks][:1] == [min(3, buf.size)] and sum(len(c) for c in chunks) == buf.size
    assert chunks[0].data_ptr() == buf.storage["obs"].data_ptr()  # a view of the buffer, not a copy
    torch.save(state, tmp_path / "buf.pt")

    loaded = torch.load(tmp_path / "buf.pt", weights_only=False)
    other = ReplayBuffer(capacity, episode_limit=5, n_agents=2, obs_dim=3, state_dim=6, n_actions=4, seed=99)
    other.load_state_dict(loaded)
    assert all(c is None for c in loaded["data"]["obs"])  # each chunk let go once copied
    assert (other.size, other.position) == (buf.size, buf.position)
    for name, tensor in buf.storage.items():
        assert torch.equal(other.storage[name][0, : buf.size], tensor[0, : buf.size]), name
    a, b = buf.sample(3), other.sample(3)  # the sampling RNG continues too
    assert torch.equal(a.obs, b.obs) and torch.equal(a.actions, b.actions)


def test_checkpoint_of_one_tensor_per_field_still_loads():
    """Checkpoints written before chunking hold one cloned tensor per field."""
    buf = _filled(10, [2, 5, 3])
    old = {"size": buf.size, "position": buf.position, "generator": buf.generators[0].get_state(),
           "data": {k: v[0, : buf.size].clone() for k, v in buf.storage.items()}}
    other = ReplayBuffer(10, episode_limit=5, n_agents=2, obs_dim=3, state_dim=6, n_actions=4)
    other.load_state_dict(old)
    assert torch.equal(other.storage["obs"][0, :3], buf.storage["obs"][0, :3])


_PEAK = textwrap.dedent("""
    import os, resource, sys, torch
    from pps.buffer import ReplayBuffer
    mode, path = sys.argv[1], sys.argv[2]
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    buf = ReplayBuffer(1200, 100, 8, 205, 192, 13)  # 8m's layout, 0.38 MB per episode
    if mode == "save":
        for v in buf.storage.values():
            v[:600] = 1
        buf.size = buf.position = 600
        before = peak()
        with open(path, "wb") as f:
            torch.save({"buffer": buf.state_dict()}, f)
    else:
        before = peak()
        buf.load_state_dict(torch.load(path, weights_only=False)["buffer"])
    print(peak() - before, 600 * buf.bytes_per_episode())
""")


def test_checkpoint_peak_memory_holds_the_buffer_once(tmp_path):
    """Save a half-full 8m buffer (219 MiB) and load it in fresh processes, measuring peak RSS.

    Before chunked views, saving cloned the stored episodes (+219 MiB) and loading held the
    loaded copy and the buffer together (+438 MiB)."""
    path = tmp_path / "ckpt.pt"
    script = tmp_path / "peak.py"
    script.write_text(_PEAK)

    def run(mode: str) -> tuple[int, int]:
        out = subprocess.run([sys.executable, str(script), mode, str(path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        grew, stored = map(int, out.stdout.split())
        return grew, stored

    grew, stored = run("save")
    assert grew < 16 * 2**20, f"saving grew the peak by {grew / 2**20:.0f} MiB"
    # only the stored episodes are written, not the 600 empty slots behind them
    assert stored < path.stat().st_size < stored + 2**20
    grew, stored = run("load")
    limit = stored + replay_layout.CHECKPOINT_CHUNK_BYTES + 32 * 2**20
    assert grew < limit, f"loading grew the peak by {grew / 2**20:.0f} MiB"


def test_a_task_without_static_sizes_is_a_clear_error(monkeypatch):
    """A backend whose table gives no sizes cannot be planned."""
    spec = registry.MAPS["smac"]["corridor"]
    monkeypatch.setitem(registry.MAPS["smac"], "corridor", dataclasses.replace(spec, obs_dim=None))
    with pytest.raises(UserError, match="No static sizes for env 'smac', map 'corridor'"):
        memory.map_dims("smac", "corridor")
